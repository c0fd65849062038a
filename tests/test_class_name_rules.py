"""The one rule of class names, and every place where names enter the project."""
import json

import pytest

from mmseg_baclip.apis import load_vocabulary, parse_vocabulary_text, read_vocabulary_file
from mmseg_baclip.datasets import OVCamoDataError
from mmseg_baclip.datasets.ovcamo_io import load_class_info
from mmseg_baclip.utils.class_name_rules import (MAX_CLASS_NAME_BYTES, ClassNameError,
                                                 check_vocabulary, class_name_problem,
                                                 normalize_class_name)

HOSTILE = {
    'a/../../ESCAPED': 'path separator',
    'back\\slash': 'path separator',
    '   ': 'blank',
    'nul\x00byte': "'\\x00'",
    'red\x1b[31m': "'\\x1b'",
    'two\nlines': "'\\n'",
    'right\u202eto-left': "'\\u202e'",
    ' owl': 'spaces',
    'snow  leopard': 'spaces',
    'x' * (MAX_CLASS_NAME_BYTES + 1): 'bytes long',
    '\u00e9' * (MAX_CLASS_NAME_BYTES // 2 + 1): 'bytes long',  # 2 bytes each in UTF-8
}


@pytest.mark.parametrize('name, reason', list(HOSTILE.items()))
def test_hostile_names_break_the_rule(name, reason):
    assert reason in class_name_problem(name)


@pytest.mark.parametrize('name', ['owl', 'snow leopard', 'non-succulent plant', 'reccoon',
                                  'caf\u00e9 cat', '\u86c7', '[weird] name', 'x' * 128])
def test_ordinary_names_pass(name):
    assert class_name_problem(name) is None


def test_names_equal_up_to_case_are_one_name():
    with pytest.raises(ClassNameError, match="'Owl' repeats name #0 'owl'"):
        check_vocabulary(['owl', 'moth', 'Owl'])
    with pytest.raises(ClassNameError, match='empty'):
        check_vocabulary([])
    with pytest.raises(TypeError, match='not the string'):
        check_vocabulary('owl')


def test_typed_names_are_normalised_before_the_check():
    assert normalize_class_name(' snow \t  leopard ') == 'snow leopard'
    assert parse_vocabulary_text(' owl,  snow   leopard ,\nmoth,, ') == (
        'owl', 'snow leopard', 'moth')
    assert load_vocabulary([' owl ', 'moth']) == ('owl', 'moth')


# ------------------------------------------------------------------ where names enter
@pytest.mark.parametrize('text, match', [
    ('owl, a/../../ESCAPED', r"--vocab .*name #1 'a/../../ESCAPED' holds a path separator"),
    ('owl, Owl, OWL', r"'Owl' repeats name #0 'owl'"),
    ('owl, red\x1b[31m', r"'red\\x1b\[31m' holds control"),
    (' , ,', '--vocab is empty'),
])
def test_vocab_option(text, match):
    with pytest.raises(ClassNameError, match=match):
        parse_vocabulary_text(text, '--vocab')


def test_vocab_file_names_the_file_and_the_line(tmp_path):
    path = tmp_path / 'names.txt'
    path.write_text('owl\n\nmoth\nbad/name\nMoth\n', encoding='utf-8')
    with pytest.raises(ClassNameError) as info:
        read_vocabulary_file(str(path))
    message = str(info.value)
    assert str(path) in message and "line 4 'bad/name' holds a path separator" in message
    path.write_text('owl\n\nmoth\nMoth\n', encoding='utf-8')
    with pytest.raises(ClassNameError, match=r"line 4 'Moth' repeats line 3 'moth'"):
        read_vocabulary_file(str(path))
    path.write_bytes(b'owl\r\nmoth\r\n')  # Windows line ends are line ends
    assert read_vocabulary_file(str(path)) == ('owl', 'moth')
    path.write_bytes(b'owl\rmoth\n')  # whitespace inside a name becomes one space, never raw
    assert read_vocabulary_file(str(path)) == ('owl moth', )
    path.write_bytes(b'owl\n\x1b[2Jmoth\n')  # an escape sequence is refused, not printed
    with pytest.raises(ClassNameError, match=r"line 2 '\\x1b\[2Jmoth' holds control"):
        read_vocabulary_file(str(path))


def _class_info(tmp_path, names):
    path = tmp_path / 'class_info.json'
    path.write_text(json.dumps([dict(name=n, split='test') for n in names]), encoding='utf-8')
    return str(path)


@pytest.mark.parametrize('bad, match', [
    ('a/../../ESCAPED', r"entry #1: the class name 'a/../../ESCAPED' holds a path separator"),
    ('   ', r"entry #1: the class name '   ' is blank"),
    ('x' * 300, r'entry #1: .* is 300 bytes long'),
    ('OWL', r"entry #1: class 'OWL' already listed as entry #0 \(letter case is ignored\)"),
])
def test_class_info_json_names_the_file_and_the_entry(tmp_path, bad, match):
    path = _class_info(tmp_path, ['owl', bad, 'moth'])
    with pytest.raises(OVCamoDataError, match=match) as info:
        load_class_info(path)
    assert path in str(info.value)


def test_the_model_refuses_a_configured_vocabulary_that_breaks_the_rule():
    from mmseg_baclip.models.text_encoders import check_vocabulary as model_check
    with pytest.raises(ClassNameError, match='path separator'):
        model_check(['owl', 'a/b'])
    with pytest.raises(ClassNameError, match='repeats'):
        model_check(['owl', 'OWL'])
