"""WordNet 3.x read offline by nltk's reader, from a distribution's files.

The location is ``$INTERN_MM_WORDNET`` (default ``/usr/share/wordnet``: Debian / Ubuntu
``wordnet-base``, installed by ``tools/setup_env.sh``). Nothing is downloaded: the folder
needs the Princeton database files ``index.noun``, ``data.noun``, ... (``noun.exc`` etc.).

nltk's :class:`~nltk.corpus.reader.wordnet.WordNetCorpusReader` is made to read such a
folder in three ways, all in :func:`reader_class` / :func:`load_wordnet`:

* nltk >= 3.9 opens corpus files only under ``nltk.data.path``: the folder is appended.
* Debian does not ship ``lexnames`` (the lexicographer file names): the reader gets the
  fixed WordNet 3.0 list (``lexnames(5WN)``) from :data:`LEXNAMES` instead of the file.
* nltk maps a WordNet that is not its own download to its own for the multilingual OMW
  data (``map_wn``), which would look for ``nltk_data/corpora/wordnet``: no such mapping
  here (OMW is not used).
"""
import functools
import io
import os
import os.path as osp
import threading
import warnings
from typing import Dict, Optional

from .errors import GVDInputError

__all__ = ['WORDNET_ENV', 'DEFAULT_WORDNET_ROOT', 'LEXNAMES', 'wordnet_root',
           'load_wordnet', 'reader_class']

#: Environment variable naming the WordNet folder.
WORDNET_ENV = 'INTERN_MM_WORDNET'
#: The folder Debian's ``wordnet-base`` installs.
DEFAULT_WORDNET_ROOT = '/usr/share/wordnet'
#: WordNet 3.0's lexicographer files, numbered as in ``data.*`` (``man 5 lexnames``).
LEXNAMES = (
    'adj.all', 'adj.pert', 'adv.all', 'noun.Tops', 'noun.act', 'noun.animal',
    'noun.artifact', 'noun.attribute', 'noun.body', 'noun.cognition',
    'noun.communication', 'noun.event', 'noun.feeling', 'noun.food', 'noun.group',
    'noun.location', 'noun.motive', 'noun.object', 'noun.person', 'noun.phenomenon',
    'noun.plant', 'noun.possession', 'noun.process', 'noun.quantity', 'noun.relation',
    'noun.shape', 'noun.state', 'noun.substance', 'noun.time', 'verb.body',
    'verb.change', 'verb.cognition', 'verb.communication', 'verb.competition',
    'verb.consumption', 'verb.contact', 'verb.creation', 'verb.emotion', 'verb.motion',
    'verb.perception', 'verb.possession', 'verb.social', 'verb.stative', 'verb.weather',
    'adj.ppl')
#: Lexicographer file number -> syntactic category (``lexnames`` third column).
_LEXNAME_POS = {'noun': 1, 'verb': 2, 'adj': 3, 'adv': 4}
_REQUIRED = tuple(f'{kind}.{pos}' for pos in ('noun', 'verb', 'adj', 'adv')
                  for kind in ('index', 'data')) + ('noun.exc', 'verb.exc', 'adj.exc', 'adv.exc')

_CACHE: Dict[str, object] = {}
_LOCK = threading.Lock()


def wordnet_root(root: Optional[str] = None) -> str:
    """The WordNet folder: ``root``, else ``$INTERN_MM_WORDNET``, else the default.

    Args:
        root (str, optional): An explicit folder. Defaults to None.

    Returns:
        str: The absolute folder path (not checked).

    Example:
        >>> wordnet_root('/opt/wordnet')
        '/opt/wordnet'
    """
    return osp.abspath(root or os.environ.get(WORDNET_ENV) or DEFAULT_WORDNET_ROOT)


def _lexnames_text() -> str:
    return ''.join(f'{i:02d}\t{name}\t{_LEXNAME_POS[name.split(".")[0]]}\n'
                   for i, name in enumerate(LEXNAMES))


@functools.lru_cache(maxsize=None)
def reader_class() -> type:
    """``OfflineWordNetReader``: nltk's reader class with the changes of the module doc.

    Built on first use, so that importing this module does not import nltk (~1 s).

    Returns:
        type: A subclass of nltk's ``WordNetCorpusReader``.

    Example:
        >>> reader_class().__name__  # doctest: +SKIP
        'OfflineWordNetReader'
    """
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class _Reader(WordNetCorpusReader):
        """nltk's WordNet reader over a distribution folder (see the module doc)."""

        def open(self, file):
            if file == 'lexnames' and not osp.isfile(osp.join(str(self._root.path),
                                                              'lexnames')):
                return io.StringIO(_lexnames_text())
            return super().open(file)

        def map_wn(self, version='wordnet'):
            return None  # no mapping onto nltk's own WordNet download (OMW only)

    _Reader.__name__ = _Reader.__qualname__ = 'OfflineWordNetReader'
    return _Reader


def load_wordnet(root: Optional[str] = None):
    """nltk's WordNet reader over a local folder, loaded once per process and folder.

    Args:
        root (str, optional): WordNet folder; see :func:`wordnet_root`.

    Returns:
        nltk.corpus.reader.wordnet.WordNetCorpusReader: The reader.

    Raises:
        GVDInputError: When the folder lacks the database files (the message names the
            folder and how to install WordNet).

    Example:
        >>> wn = load_wordnet()  # doctest: +SKIP
        >>> wn.synsets('automobile', 'n')[0].name()  # doctest: +SKIP
        'car.n.01'
    """
    root = wordnet_root(root)
    with _LOCK:
        if root in _CACHE:
            return _CACHE[root]
        missing = [f for f in _REQUIRED if not osp.isfile(osp.join(root, f))]
        if missing:
            raise GVDInputError(
                f'WordNet not found: {osp.join(root, missing[0])} does not exist; install '
                f'it with `apt-get install wordnet-base` (or bash tools/setup_env.sh), or '
                f'set {WORDNET_ENV} to a WordNet 3.x dict folder')
        try:
            import nltk
        except ImportError as exc:
            raise GVDInputError(
                f'nltk is not installed ({exc}); pip install -r requirements/runtime.txt '
                '(or bash tools/setup_env.sh)') from None
        if root not in nltk.data.path:
            nltk.data.path.append(root)  # nltk's path sandbox: corpus roots must be listed
        with warnings.catch_warnings():
            # "The multilingual functions are not available with this Wordnet version"
            warnings.simplefilter('ignore', UserWarning)
            reader = reader_class()(root, None)
        _CACHE[root] = reader
        return reader
