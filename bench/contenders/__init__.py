"""The servers notes-bff is measured against in ``bench.compare``: N (``naive``), A
(``ariadne_batched``) and L (``limit``), each answering the benchmark's operations with the
same JSON as notes-bff."""
