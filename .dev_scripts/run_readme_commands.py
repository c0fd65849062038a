"""Run every command in the README's code blocks, as written, after ``bash tools/demo.sh``.

    python .dev_scripts/run_readme_commands.py [--readme README.md] [--list]

CI runs it (``.ci/run``) between the demo and the tests, so a README command that no longer
works fails CI. What runs:

- ```` ```bash ```` blocks: each block as one script (``bash -e``), from the repository root,
  with ``.venv/bin`` first on ``PATH`` (as after ``source .venv/bin/activate``, which the README
  asks for), so ``python`` is the project's interpreter;
- ```` ```python ```` blocks: each block as one program of ``.venv/bin/python``, from the root;
- other blocks (``text``, ``bibtex``) are not commands and are not run.

An HTML comment on the line before a block changes that:

- ``<!-- readme-check: skip: REASON -->``: not run; printed with its reason (the blocks that
  need the real OVCamo data or the real weights, and the two commands ``.ci/run`` runs itself);
- ``<!-- readme-check: server URL -->``: the block starts a server; it is run in the
  background until URL answers HTTP 200 (then stopped), and fails if the server exits first or
  does not answer within ``--server-timeout`` seconds.

Exit status 1 when any block fails; its output's tail is printed.
"""
import argparse
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import List, NamedTuple, Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
FENCE = re.compile(r'^```(\w*)\s*$')
DIRECTIVE = re.compile(r'^<!--\s*readme-check:\s*(skip|server)\s*:?\s*(.*?)\s*-->\s*$')
RUNNABLE = ('bash', 'python')


class CodeBlock(NamedTuple):
    """A fenced block of the README: where it starts, its language, text and directive."""
    line: int  # 1-based line of the opening fence
    language: str
    text: str
    action: str  # 'run', 'skip', 'server' or 'none' (not a command)
    argument: str  # the skip reason or the server URL


def parse_blocks(markdown: str) -> List[CodeBlock]:
    """The fenced code blocks of a Markdown text, with what to do with each.

    Args:
        markdown (str): The README's text.

    Returns:
        list[CodeBlock]: In order of appearance.

    Raises:
        ValueError: A fence is never closed, or a directive names a server without a URL or a
            skip without a reason, or stands before a block that is not a command.
    """
    lines = markdown.split('\n')
    blocks, index = [], 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        start, language = index, match.group(1).lower()
        end = next((j for j in range(index + 1, len(lines)) if lines[j].strip() == '```'), None)
        if end is None:
            raise ValueError(f'line {start + 1}: the code block is never closed')
        previous = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), '')
        directive = DIRECTIVE.match(previous.strip())
        action, argument = ('run', '') if language in RUNNABLE else ('none', '')
        if directive:
            action, argument = directive.group(1), directive.group(2)
            if not argument:
                raise ValueError(f'line {start + 1}: "readme-check: {action}" needs '
                                 f'{"a reason" if action == "skip" else "a URL"}')
            if language not in RUNNABLE:
                raise ValueError(f'line {start + 1}: a readme-check directive before a '
                                 f'"{language}" block, which is not run anyway')
        blocks.append(CodeBlock(start + 1, language, '\n'.join(lines[start + 1:end]), action,
                                argument))
        index = end + 1
    return blocks


def command_of(block: CodeBlock) -> List[str]:
    """The argv that runs a block."""
    if block.language == 'bash':
        return ['bash', '-e', '-c', block.text]
    return [osp.join(REPO_ROOT, '.venv', 'bin', 'python'), '-c', block.text]


def environment() -> dict:
    """The environment of an activated ``.venv``."""
    venv = osp.join(REPO_ROOT, '.venv')
    return dict(os.environ, VIRTUAL_ENV=venv,
                PATH=osp.join(venv, 'bin') + os.pathsep + os.environ.get('PATH', ''))


def first_line(block: CodeBlock) -> str:
    return next((line.strip() for line in block.text.split('\n')
                 if line.strip() and not line.strip().startswith('#')), '')[:110]


def run_block(block: CodeBlock, timeout: float) -> Optional[str]:
    """Run one block to the end; None when it succeeded, otherwise its output's tail."""
    try:
        proc = subprocess.run(command_of(block), cwd=REPO_ROOT, env=environment(),
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f'did not finish within {timeout:.0f} s'
    if proc.returncode != 0:
        return f'exit status {proc.returncode}\n' + (proc.stdout + proc.stderr)[-3000:]
    return None


def answers(url: str) -> bool:
    """Whether ``url`` answers HTTP 200 now."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, OSError):
        return False


def run_server_block(block: CodeBlock, timeout: float) -> Optional[str]:
    """Start a server block, wait until its URL answers, stop it; None when it answered."""
    log = open(osp.join(REPO_ROOT, 'work_dirs', 'readme_server.log'), 'w+')
    proc = subprocess.Popen(command_of(block), cwd=REPO_ROOT, env=environment(), stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline, error = time.monotonic() + timeout, None
    try:
        while not answers(block.argument):
            if proc.poll() is not None:
                error = f'the server exited (status {proc.returncode}) before {block.argument} ' \
                        'answered'
                break
            if time.monotonic() > deadline:
                error = f'{block.argument} did not answer within {timeout:.0f} s'
                break
            time.sleep(1)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    if error:
        log.seek(0)
        error += '\n' + log.read()[-3000:]
    log.close()
    return error


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description='Run the README code blocks as written')
    parser.add_argument('--readme', default=osp.join(REPO_ROOT, 'README.md'))
    parser.add_argument('--list', action='store_true', help='only say what would be done')
    parser.add_argument('--timeout', type=float, default=600, help='seconds per block')
    parser.add_argument('--server-timeout', type=float, default=180,
                        help='seconds a server block may take to answer')
    args = parser.parse_args(argv)
    with open(args.readme, encoding='utf-8') as f:
        blocks = parse_blocks(f.read())
    os.makedirs(osp.join(REPO_ROOT, 'work_dirs'), exist_ok=True)
    failed = 0
    for block in blocks:
        where = f'{osp.basename(args.readme)}:{block.line} {block.language}'
        if block.action == 'none':
            continue
        if block.action == 'skip':
            print(f'[readme] skipped  {where}: {first_line(block)}\n'
                  f'         because: {block.argument}')
            continue
        if args.list:
            print(f'[readme] would run ({block.action}) {where}: {first_line(block)}')
            continue
        start = time.monotonic()
        error = (run_server_block(block, args.server_timeout) if block.action == 'server' else
                 run_block(block, args.timeout))
        status = 'FAILED' if error else 'ok'
        print(f'[readme] {status:<7}  {where} ({time.monotonic() - start:.0f} s): '
              f'{first_line(block)}', flush=True)
        if error:
            failed += 1
            print('\n'.join('         ' + line for line in error.rstrip().split('\n')))
    if failed:
        print(f'[readme] {failed} README block(s) failed')
        return 1
    if not args.list:
        print('[readme] every README command that can run here ran')
    return 0


if __name__ == '__main__':
    sys.exit(main())
