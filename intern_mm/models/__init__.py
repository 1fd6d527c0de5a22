"""Models of intern_mm: GV-A backbones, heads, losses, the upstream stage models and
backbone helpers (outputs, weight loading)."""
from .backbones import *  # noqa: F401,F403
from .distillers import *  # noqa: F401,F403
from .generalist import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .upstream import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403
