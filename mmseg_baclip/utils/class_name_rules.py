"""What a class name may be, checked once where names enter the project.

A class name is open vocabulary, so it comes from users and data files (``class_info.json``,
``--vocab``, ``--vocab-file``, the web demo's text box, ``model.vocabulary`` of a config, the
training vocabulary stored in a checkpoint). It is also written into file names
(``[<class>]<mask name>`` predictions), printed in logs and shown in a web page. One rule for
all of them:

* a string that is not blank;
* printable: no NUL, new line, tab, escape or other control or format character
  (``str.isprintable``; the plain space is the only space allowed);
* no path separator (``/`` or ``\\``), so a name never becomes a path;
* its own normal form: no space at either end and no run of spaces (typed vocabularies are
  normalised with :func:`normalize_class_name` before the check; data files must already be);
* at most :data:`MAX_CLASS_NAME_BYTES` bytes of UTF-8, so ``[<class>]<mask name>`` fits a file
  name (255 bytes on common file systems);
* distinct from every other name of its vocabulary, letter case ignored (CLIP's tokenizer
  lowers the case, so ``Owl`` and ``owl`` would get the same embedding and tie).
"""
from typing import Iterable, List, Optional, Sequence, Tuple

#: Longest class name, in bytes of UTF-8.
MAX_CLASS_NAME_BYTES = 128
#: Characters a class name may not hold, because they separate path components.
PATH_SEPARATORS = ('/', '\\')


class ClassNameError(ValueError):
    """A class name or a vocabulary that breaks the rule of :mod:`class_name_rules`."""


def normalize_class_name(text: str) -> str:
    """A typed name trimmed, with each run of whitespace (spaces, tabs, new lines) made one
    space: ``" snow \\t leopard "`` -> ``"snow leopard"``. Other control characters stay, so
    that the rule refuses them instead of hiding them."""
    return ' '.join(text.split())


def class_name_problem(name: object) -> Optional[str]:
    """Why ``name`` is not a valid class name, or None when it is.

    Args:
        name (object): The candidate.

    Returns:
        str | None: A short reason (``'holds a path separator "/"'``...), or None.
    """
    if not isinstance(name, str):
        return f'is a {type(name).__name__}, not a string'
    if not name.strip():
        return 'is blank'
    bad = sorted({char for char in name if not char.isprintable() and char != ' '})
    if bad:
        return ('holds control or non-printable character(s) ' +
                ', '.join(ascii(char) for char in bad))
    separators = [sep for sep in PATH_SEPARATORS if sep in name]
    if separators:
        return f'holds a path separator {" and ".join(repr(s) for s in separators)}'
    if name != normalize_class_name(name):
        return 'has spaces at an end or a run of spaces'
    size = len(name.encode('utf-8', errors='surrogatepass'))
    if size > MAX_CLASS_NAME_BYTES:
        return f'is {size} bytes long in UTF-8 (at most {MAX_CLASS_NAME_BYTES})'
    return None


def check_class_name(name: object, where: str) -> str:
    """Return ``name`` if it is a valid class name.

    Args:
        name (object): The candidate.
        where (str): Where it came from, for the message (``'class_info.json entry #3'``).

    Raises:
        ClassNameError: Naming ``where``, the name (escaped) and the reason.
    """
    problem = class_name_problem(name)
    if problem is not None:
        raise ClassNameError(f'{where}: the class name {shown(name)} {problem}. A class name '
                             'is printable text without "/" or "\\", at most '
                             f'{MAX_CLASS_NAME_BYTES} bytes.')
    return name  # type: ignore[return-value]


def case_duplicates(names: Iterable[str]) -> List[Tuple[int, int]]:
    """Pairs ``(first index, later index)`` of names equal up to letter case."""
    first, pairs = {}, []
    for index, name in enumerate(names):
        key = name.casefold()
        if key in first:
            pairs.append((first[key], index))
        else:
            first[key] = index
    return pairs


def check_vocabulary(names: Sequence[str], source: str = 'the vocabulary',
                     labels: Optional[Sequence[str]] = None) -> Tuple[str, ...]:
    """Validate a whole vocabulary: non-empty, every name valid, no name twice (case ignored).

    Args:
        names (Sequence[str]): The class names, in order.
        source (str): Where they came from (a file, ``--vocab``, ``model.vocabulary``...).
        labels (Sequence[str], optional): How to name each entry in messages (``'line 4'``);
            defaults to ``'name #i'``.

    Returns:
        tuple[str, ...]: The names.

    Raises:
        TypeError: ``names`` is a single string.
        ClassNameError: Every problem of the vocabulary, each entry named.
    """
    if isinstance(names, str):
        raise TypeError(f'{source}: a vocabulary is a list of class names, not the string '
                        f'{shown(names)}')
    names = tuple(names)
    if not names:
        raise ClassNameError(f'{source} is empty: give at least one class name.')
    labels = list(labels) if labels is not None else [f'name #{i}' for i in range(len(names))]
    problems = []
    for label, name in zip(labels, names):
        problem = class_name_problem(name)
        if problem is not None:
            problems.append(f'{label} {shown(name)} {problem}')
    if not problems:
        problems = [f'{labels[later]} {shown(names[later])} repeats {labels[first]} '
                    f'{shown(names[first])} (letter case is ignored)'
                    for first, later in case_duplicates(names)]
    if problems:
        raise ClassNameError(
            f'{source} has {len(problems)} invalid class name(s): ' + '; '.join(problems[:10]) +
            ('; ...' if len(problems) > 10 else '') + '. A class name is printable text without '
            f'"/" or "\\", at most {MAX_CLASS_NAME_BYTES} bytes, distinct from the others '
            'ignoring case.')
    return names


def shown(name: object, limit: int = 60) -> str:
    """A name as it is safe to print: quoted, with control characters escaped, shortened."""
    text = ascii(name) if isinstance(name, str) and not name.isprintable() else repr(name)
    return text if len(text) <= limit else text[:limit - 4] + '...' + text[-1]
