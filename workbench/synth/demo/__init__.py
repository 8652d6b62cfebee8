"""The demo station: a rendered video of sealant beads on car underbodies with exact ground truth."""

from workbench.synth.demo.contact import contact_sheet
from workbench.synth.demo.render import render_demo

__all__ = ["contact_sheet", "render_demo"]
