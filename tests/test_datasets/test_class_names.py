"""The built-in OVCamo class lists: 14 train and 61 test classes, spelled as published."""
from mmseg_baclip.datasets import OVCAMO_TEST_CLASSES, OVCAMO_TRAIN_CLASSES


def test_counts_and_disjoint():
    assert len(OVCAMO_TRAIN_CLASSES) == len(set(OVCAMO_TRAIN_CLASSES)) == 14
    assert len(OVCAMO_TEST_CLASSES) == len(set(OVCAMO_TEST_CLASSES)) == 61
    assert not set(OVCAMO_TRAIN_CLASSES) & set(OVCAMO_TEST_CLASSES)


def test_spelling_as_in_the_public_lists():
    assert OVCAMO_TRAIN_CLASSES[0] == 'mantis' and OVCAMO_TRAIN_CLASSES[-1] == 'succulent plant'
    assert OVCAMO_TEST_CLASSES[0] == 'owlfly larva'
    assert OVCAMO_TEST_CLASSES[-1] == 'non-succulent plant'
    assert 'reccoon' in OVCAMO_TEST_CLASSES and 'raccoon' not in OVCAMO_TEST_CLASSES
    assert {'snow leopard', 'human', 'seahorse'} <= set(OVCAMO_TRAIN_CLASSES)
    assert {'egyptian nightjar', 'polar bear', 'arctic fox', 'stick insect', 'hermit crab',
            'stingaree', 'scorpionfish'} <= set(OVCAMO_TEST_CLASSES)
