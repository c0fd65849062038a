"""OVCamo class names: 14 train (seen) and 61 test (unseen) classes.

The lists are spelled exactly as in the public OVCOS code bases (including the typo
``'reccoon'``, which COD10K also uses). At run time :class:`OVCamoDataset` reads the names and
their order from ``class_info.json``; these tuples are a cross-check, the synthetic-data
vocabulary and a fallback for ``lazy_init`` datasets built without the data on disk.
"""

OVCAMO_TRAIN_CLASSES = (
    'mantis', 'owl', 'grasshopper', 'katydid', 'snake', 'spider', 'lizard', 'snow leopard',
    'human', 'seahorse', 'pipefish', 'flatfish', 'frog', 'succulent plant')

OVCAMO_TEST_CLASSES = (
    'owlfly larva', 'grouse', 'frogmouth', 'bat', 'bee', 'bittern', 'mockingbird', 'dragonfly',
    'heron', 'egyptian nightjar', 'potoo', 'cicada', 'butterfly', 'moth', 'slug', 'reccoon',
    'monkey', 'kangaroo', 'mongoose', 'lion', 'elephant', 'jerboa', 'snail', 'duck', 'cheetah',
    'giraffe', 'ant', 'beetle', 'wolf', 'rabbit', 'tiger', 'squirrel', 'polar bear', 'deer',
    'dog', 'scorpion', 'arctic fox', 'goat', 'hedgehog', 'chameleon', 'leopard', 'worm',
    'stick insect', 'cat', 'crocodilefish', 'batfish', 'clownfish', 'frogfish', 'seadragon',
    'stingaree', 'crocodile', 'starfish', 'hermit crab', 'cuttlefish', 'shrimp', 'seal', 'crab',
    'octopus', 'turtle', 'scorpionfish', 'non-succulent plant')
