# The public API of ``nexus_lab``, declared once: type checkers read this file, and
# ``nexus_lab/__init__.py`` loads each name from it lazily on first use (lazy_loader).
from . import audit as audit
from . import auth as auth
from . import bankfiles as bankfiles
from . import cases as cases
from . import compress as compress
from . import config as config
from . import crypto as crypto
from . import data as data
from . import datasets as datasets
from . import examine as examine
from . import fraud as fraud
from . import projects as projects
from . import recommend as recommend
from . import reconcile as reconcile
from . import review as review
from . import runs as runs
from . import scale as scale
from . import standardize as standardize
from . import store as store
from . import tracking as tracking
from . import workflows as workflows
from ._typing import DeviceLike as DeviceLike
from ._typing import FrameLike as FrameLike
from ._typing import PathLike as PathLike
from .device import resolve_device as resolve_device
from .errors import ClusterError as ClusterError
from .errors import DependencyError as DependencyError
from .errors import DeviceError as DeviceError
from .errors import IntegrityError as IntegrityError
from .errors import NexusError as NexusError
from .errors import NotFittedError as NotFittedError
from .errors import PermissionDenied as PermissionDenied
from .errors import SchemaError as SchemaError
from .files import read_table as read_table
from .reconcile import ReconcileResult as ReconcileResult
from .reconcile import link as link

__version__: str
