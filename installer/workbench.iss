; Inno Setup script: Windows installer for the one-folder application built by installer/workbench.spec.
; Build (from the repository root, after PyInstaller wrote dist\workbench\):
;   iscc /DAppVersion=0.1.0 installer\workbench.iss        -> dist\installer\AnomalyWorkbench-Setup-0.1.0.exe
; Start-menu entries, an .awb file association ("Anomaly Workbench station") and an uninstaller.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "Anomaly Workbench"
#define AppExe "workbench.exe"
#define ProjectExt ".awb"
#define ProjectProgId "AnomalyWorkbench.Station"

[Setup]
AppId={{6B0E7C52-3E0B-4C8E-9A51-2F6E4D1B7A90}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=Anomaly Workbench contributors
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
OutputDir=..\dist\installer
OutputBaseFilename=AnomalyWorkbench-Setup-{#AppVersion}
Compression=lzma2/max
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequiredOverridesAllowed=dialog
ChangesAssociations=yes
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName} {#AppVersion}
WizardStyle=modern

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "associate"; Description: "Open {#ProjectExt} station files with {#AppName}"; GroupDescription: "File association:"

[Files]
Source: "..\dist\workbench\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"; Parameters: "gui"; WorkingDir: "{userdocs}"
Name: "{group}\{#AppName} demo station"; Filename: "{app}\{#AppExe}"; Parameters: "gui --demo"; WorkingDir: "{userdocs}"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Parameters: "gui"; Tasks: desktopicon

[Registry]
Root: HKA; Subkey: "Software\Classes\{#ProjectExt}"; ValueType: string; ValueName: ""; ValueData: "{#ProjectProgId}"; Flags: uninsdeletevalue; Tasks: associate
Root: HKA; Subkey: "Software\Classes\{#ProjectProgId}"; ValueType: string; ValueName: ""; ValueData: "Anomaly Workbench station"; Flags: uninsdeletekey; Tasks: associate
Root: HKA; Subkey: "Software\Classes\{#ProjectProgId}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"; Tasks: associate
Root: HKA; Subkey: "Software\Classes\{#ProjectProgId}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" gui ""%1"""; Tasks: associate

[Run]
Filename: "{app}\{#AppExe}"; Parameters: "gui --demo"; Description: "Open the demo station"; Flags: nowait postinstall skipifsilent
