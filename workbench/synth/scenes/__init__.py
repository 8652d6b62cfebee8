"""A second scene family for line videos (brackets on a moving belt), unlike the demo's underbodies: other parts,
another bead layout, a camera further away, and the variations of real line videos (see ``render``)."""

from workbench.synth.scenes.render import SceneParams, render_scene

__all__ = ["SceneParams", "render_scene"]
