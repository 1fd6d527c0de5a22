"""Models of intern_mm: GV-A backbones, heads, losses and the upstream stage models."""
from .backbones import *  # noqa: F401,F403
from .distillers import *  # noqa: F401,F403
from .generalist import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .upstream import *  # noqa: F401,F403
