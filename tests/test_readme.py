"""The README as a newcomer meets it: short, a table of contents, the links a user needs, paths and
links that exist, and every code block either run by CI or marked with why it cannot be."""
import importlib.util
import os
import os.path as osp
import re

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
README = osp.join(REPO_ROOT, 'README.md')
ABLATION_PREFIX = 'baclip_convnext-l_1xb4-30e_ovcamo-384'  # what the README's "…" stands for
MAX_WORDS = 3000


def read(path: str) -> str:
    with open(path, encoding='utf-8') as f:
        return f.read()


def load_readme_runner():
    path = osp.join(REPO_ROOT, '.dev_scripts', 'run_readme_commands.py')
    spec = importlib.util.spec_from_file_location('run_readme_commands', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r'[^\w\- ]', '', heading.strip().lower())
    return text.replace(' ', '-')


def headings(markdown: str, level: str = '##') -> list:
    body = re.sub(r'^```.*?^```', '', markdown, flags=re.S | re.M)  # not inside code blocks
    return [line[len(level) + 1:] for line in body.split('\n')
            if line.startswith(level + ' ')]


def expand_config_paths(text: str) -> list:
    """Every ``configs/....py`` the text names, with "…" and "{a,b}" written out."""
    paths = []
    for path in re.findall(r'configs/[\w/.\-…{},]+?\.py', text):
        path = path.replace('…', ABLATION_PREFIX)
        braces = re.search(r'\{([^}]*)\}', path)
        options = braces.group(1).split(',') if braces else ['']
        paths += [path.replace(braces.group(0), o) if braces else path for o in options]
    return paths


def test_license_is_apache_2():
    text = read(osp.join(REPO_ROOT, 'LICENSE'))
    assert 'Apache License' in text and 'Version 2.0, January 2004' in text
    assert 'TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION' in text


def test_readme_is_short():
    words = len(read(README).split())
    assert words < MAX_WORDS, f'README.md has {words} words; move details to docs/'


def test_table_of_contents_lists_every_section():
    text = read(README)
    contents = text.split('## Contents', 1)[1].split('\n## ', 1)[0]
    linked = re.findall(r'\]\(#([\w\-]+)\)', contents)
    sections = [h for h in headings(text) if h != 'Contents']
    assert linked == [github_anchor(h) for h in sections]


def test_every_config_named_exists():
    named = expand_config_paths(read(README))
    assert len(named) > 10
    missing = [p for p in named if not osp.isfile(osp.join(REPO_ROOT, p))]
    assert not missing


def test_config_path_expansion():
    assert expand_config_paths('`configs/baclip/…_abl-mfmsa-x{1,2}.py`') == [
        f'configs/baclip/{ABLATION_PREFIX}_abl-mfmsa-x1.py',
        f'configs/baclip/{ABLATION_PREFIX}_abl-mfmsa-x2.py']


@pytest.mark.parametrize('what, pattern', [
    ('the paper', r'https://openaccess\.thecvf\.com/'),
    ('OVCamo', r'https://github\.com/lartpang/OVCamo'),
    ('the OVCamo data release', r'https://github\.com/lartpang/OVCamo/releases/tag/dataset-v1\.1'),
    ('the CLIP weights',
     r'https://huggingface\.co/laion/CLIP-convnext_large_d_320\.laion2B-s29B-b131K-ft-soup'),
    ('the SAM checkpoint',
     r'https://dl\.fbaipublicfiles\.com/segment_anything/sam_vit_b_01ec64\.pth'),
    ("OVCamo's evaluator", r'https://github\.com/lartpang/OVCamo/blob/main/evaluate\.py'),
])
def test_readme_links_what_a_user_needs(what, pattern):
    links = re.findall(r'\]\((https?://[^)\s]+)\)', read(README))
    assert any(re.match(pattern, link) for link in links), f'no link to {what}'


@pytest.mark.parametrize('page', ['README.md', 'projects.md'] + [
    osp.join('docs', f) for f in sorted(os.listdir(osp.join(REPO_ROOT, 'docs')))
    if f.endswith('.md')])
def test_relative_links_resolve(page):
    """Links to files of the repository (and to headings of them) exist."""
    text = re.sub(r'^```.*?^```', '', read(osp.join(REPO_ROOT, page)), flags=re.S | re.M)
    broken = []
    for target in re.findall(r'\]\(([^)\s]+)\)', text):
        if re.match(r'[a-z]+://', target) or target.startswith('mailto:'):
            continue
        path, _, anchor = target.partition('#')
        file = osp.normpath(osp.join(REPO_ROOT, osp.dirname(page), path)) if path else \
            osp.join(REPO_ROOT, page)
        if not osp.exists(file):
            broken.append(target)
        elif anchor and file.endswith('.md'):
            anchors = [github_anchor(h) for level in ('#', '##', '###')
                       for h in headings(read(file), level)]
            if anchor not in anchors:
                broken.append(target)
    assert not broken, f'{page}: broken links {broken}'


def test_every_command_block_is_run_or_says_why_not():
    runner = load_readme_runner()
    blocks = runner.parse_blocks(read(README))
    commands = [b for b in blocks if b.language in runner.RUNNABLE]
    assert commands and all(b.action in ('run', 'skip', 'server') for b in commands)
    skipped = [b for b in commands if b.action == 'skip']
    assert all(re.search(r'OVCamo|COS test sets|weights|\.ci/run', b.argument) for b in skipped)
    # skipped: the two commands .ci/run runs, the data check, the paper's training and the COS
    # evaluation (real data and weights); nothing else
    assert len(skipped) <= 4
    assert sum(b.action == 'run' for b in commands) >= 4


def test_readme_runner_reads_directives():
    runner = load_readme_runner()
    text = ('x\n<!-- readme-check: skip: needs the real weights -->\n```bash\npython a.py\n```\n'
            '```python\nprint(1)\n```\n<!-- readme-check: server http://127.0.0.1:1 -->\n\n'
            '```bash\npython serve.py\n```\n```text\nout\n```\n')
    blocks = runner.parse_blocks(text)
    assert [(b.language, b.action, b.argument) for b in blocks] == [
        ('bash', 'skip', 'needs the real weights'), ('python', 'run', ''),
        ('bash', 'server', 'http://127.0.0.1:1'), ('text', 'none', '')]
    assert blocks[0].text == 'python a.py' and blocks[0].line == 3
    with pytest.raises(ValueError, match='never closed'):
        runner.parse_blocks('```bash\nls\n')
    with pytest.raises(ValueError, match='needs a reason'):
        runner.parse_blocks('<!-- readme-check: skip -->\n```bash\nls\n```\n')


def test_readme_runner_reports_a_failing_block(tmp_path, capsys):
    runner = load_readme_runner()
    readme = tmp_path / 'README.md'
    readme.write_text('```bash\necho fine\n```\n```bash\nexit 3\n```\n', encoding='utf-8')
    assert runner.main(['--readme', str(readme)]) == 1
    out = capsys.readouterr().out
    assert 'ok       README.md:1' in out and 'FAILED   README.md:4' in out
    assert 'exit status 3' in out


def test_readme_reads_as_documentation_not_a_changelog():
    text = read(README)
    for phrase in (r'\bIssue \d+', r'before this change', r'\bwas added\b', r'\bnow\b.*\bused to\b'):
        assert not re.search(phrase, text), phrase
