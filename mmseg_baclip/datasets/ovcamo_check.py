"""Validate a whole OVCamo tree (real or synthetic) and report on it.

Uses the same readers and per-sample checks as :class:`OVCamoDataset`
(:mod:`mmseg_baclip.datasets.ovcamo_io`, :mod:`mmseg_baclip.datasets.ovcamo_files`), so a tree
that passes here builds as a dataset.
Command line: ``tools/dataset_converters/check_ovcamo.py``.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple, Union

from mmengine.fileio import join_path
from mmengine.utils import is_abs

from .ovcamo_files import check_samples, describe_sample
from .ovcamo_io import (SPLITS, OVCamoDataError, leak_problem, load_class_info, load_sample_info,
                        split_vocabulary)


@dataclass
class OVCamoCheckReport:
    """What :func:`check_ovcamo` found.

    Attributes:
        data_root (str): The checked root.
        class_info_file (str): Path of ``class_info.json``.
        sample_info_file (str): Path of ``sample_info.json``.
        counts (dict): ``{split: {class_name: n_samples}}`` over every class of the split in
            ``class_info.json`` order (0 for classes without samples).
        bad_files (dict): ``{split: [line, ...]}``: samples with a missing, unreadable or
            ambiguous image or mask, or image and mask orientations that do not line up.
        size_mismatches (list[str]): Samples whose image and mask sizes differ.
        unknown_classes (dict): ``{class_name: n_samples}`` for classes used in
            ``sample_info.json`` but absent from ``class_info.json``.
        errors (list[str]): Other problems: unreadable or malformed JSON, duplicate
            ``unique_id`` (in one split, or in both: a train/test leak), an empty split.
        allow_size_mismatch (bool): If True, size mismatches are reported but not problems.
    """
    data_root: str
    class_info_file: str
    sample_info_file: str
    counts: Dict[str, Dict[str, int]] = field(default_factory=dict)
    bad_files: Dict[str, List[str]] = field(default_factory=dict)
    size_mismatches: List[str] = field(default_factory=list)
    unknown_classes: Dict[str, int] = field(default_factory=dict)
    errors: List[str] = field(default_factory=list)
    allow_size_mismatch: bool = False

    @property
    def num_problems(self) -> int:
        """int: Number of problems (bad samples, unknown classes, errors, mismatches)."""
        n = sum(len(v) for v in self.bad_files.values())
        n += len(self.unknown_classes) + len(self.errors)
        return n + (0 if self.allow_size_mismatch else len(self.size_mismatches))

    @property
    def ok(self) -> bool:
        """bool: True when no problem was found."""
        return self.num_problems == 0

    def format(self) -> str:
        """The report as text: per split and class counts, then every problem."""
        lines = [f'OVCamo check of {self.data_root}',
                 f'  class_info:  {self.class_info_file}',
                 f'  sample_info: {self.sample_info_file}']
        for split, counts in self.counts.items():
            used = sum(1 for n in counts.values() if n)
            lines.append(f'\n[{split}] {sum(counts.values())} usable samples, {used}/'
                         f'{len(counts)} classes with samples')
            width = max((len(c) for c in counts), default=0)
            lines += [f'  {name:<{width}}  {n:6d}' for name, n in counts.items() if n]
            empty = [name for name, n in counts.items() if not n]
            if empty:
                lines.append(f'  classes without samples ({len(empty)}): {", ".join(empty)}')
        sections = [(f'missing, unreadable or ambiguous files [{s}]', v)
                    for s, v in self.bad_files.items()]
        sections += [
            ('image/mask size mismatches' +
             (' (allowed)' if self.allow_size_mismatch else ''), self.size_mismatches),
            ('classes in sample_info.json but not in class_info.json',
             [f'{c!r}: {n} sample(s)' for c, n in self.unknown_classes.items()]),
            ('errors', self.errors),
        ]
        for title, items in sections:
            if items:
                lines.append(f'\n{title} ({len(items)}):')
                lines += [f'  - {item}' for item in items]
        lines.append('\nOK: no problems found.' if self.ok else
                     f'\nFAILED: {self.num_problems} problem(s) found.')
        return '\n'.join(lines)


def _join(root: str, path: str) -> str:
    return join_path(root, path) if root and not is_abs(path) else path


def check_ovcamo(data_root: str,
                 class_info_file: str = 'jsonfile/class_info.json',
                 sample_info_file: str = 'jsonfile/sample_info.json',
                 data_prefixes: Optional[Dict[str, Tuple[str, str]]] = None,
                 verify: Union[bool, str] = True,
                 allow_size_mismatch: bool = False,
                 backend_args: Optional[dict] = None) -> OVCamoCheckReport:
    """Check every sample of an OVCamo tree.

    Args:
        data_root (str): Dataset root.
        class_info_file (str): Relative to ``data_root`` unless absolute.
        sample_info_file (str): Relative to ``data_root`` unless absolute.
        data_prefixes (dict, optional): ``{split: (image_dir, mask_dir)}``, relative to
            ``data_root`` unless absolute. Defaults to ``{'train': ('train/image',
            'train/mask'), 'test': ('test/image', 'test/mask')}``.
        verify (bool | str): How deeply files are read: True (``'header'``: image headers,
            structure and end markers; masks decoded and their format checked), ``'decode'``
            (images decoded in full too) or False (existence only, no sizes).
        allow_size_mismatch (bool): Report image/mask size mismatches without counting them
            as problems (OVCoser resizes the image to the mask in training).
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        OVCamoCheckReport: Counts and problems; ``report.ok`` is False when problems exist.
    """
    report = OVCamoCheckReport(
        data_root, _join(data_root, class_info_file), _join(data_root, sample_info_file),
        allow_size_mismatch=allow_size_mismatch)
    try:
        class_info = load_class_info(report.class_info_file, backend_args)
        entries = load_sample_info(report.sample_info_file, backend_args)
    except (FileNotFoundError, OVCamoDataError) as e:
        report.errors.append(str(e))
        return report
    prefixes = data_prefixes or {s: (f'{s}/image', f'{s}/mask') for s in SPLITS}
    split_of = {c['name']: c['split'] for c in class_info}
    report.counts = {s: dict.fromkeys(split_vocabulary(class_info, s), 0) for s in SPLITS}
    report.bad_files = {s: [] for s in SPLITS}
    first_seen: Dict[str, Tuple[str, int]] = {}
    members = []
    for index, entry in enumerate(entries):
        name, uid = entry['base_class'], entry['unique_id']
        split = split_of.get(name)
        if split is None:
            report.unknown_classes[name] = report.unknown_classes.get(name, 0) + 1
            continue
        if uid in first_seen:
            first_split, first = first_seen[uid]
            report.errors.append(
                f'[{split}] unique_id {uid!r} is used by sample_info.json entries #{first} and '
                f'#{index}' if first_split == split else
                f'[{split}] {uid!r}: {leak_problem(index, first, split)}')
            continue
        first_seen[uid] = (split, index)
        img_dir, mask_dir = (_join(data_root, p) for p in prefixes[split])
        members.append((split, (entry, img_dir, mask_dir)))
    checks = check_samples([job for _, job in members], verify, backend_args)
    for (split, (entry, _, _)), check in zip(members, checks):
        if check.problems:
            report.bad_files[split].append(describe_sample(check))
            continue
        report.counts[split][entry['base_class']] += 1
        if check.size_mismatch:
            report.size_mismatches.append(
                f'[{split}] {entry["unique_id"]!r}: image {check.img_path} is '
                f'{check.img_size[0]}x{check.img_size[1]}, mask {check.seg_map_path} is '
                f'{check.mask_size[0]}x{check.mask_size[1]} (HxW)')
    for split in SPLITS:
        if not report.counts[split]:
            report.errors.append(f'class_info.json lists no {split!r} class')
        elif not sum(report.counts[split].values()):
            report.errors.append(f'the {split!r} split has no usable sample')
    return report
