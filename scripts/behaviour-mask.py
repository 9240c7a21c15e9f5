"""Compare two behaviour snapshots, masking run-to-run noise."""
import os, re, sys

MASKS = [
    (re.compile(r'127\.0\.0\.1:\d+'), '127.0.0.1:PORT'),
    (re.compile(r'\[::1\]:\d+'), '[::1]:PORT'),
    (re.compile(r'"(\w+_(ns|ms))": ?\d+'), r'"\1": N'),
    (re.compile(r'\b\d+(\.\d+)?(ms|µs|s)\b'), 'DUR'),
    (re.compile(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)'), 'TIME'),
    (re.compile(r'"(sha256|serial|fingerprint)": "[0-9a-fA-F:]+"'), r'"\1": "X"'),
    (re.compile(r'(SHA-256|sha256)[ =:]+[0-9A-Fa-f:]{32,}'), r'\1 X'),
    (re.compile(r'started: [0-9-]+ [0-9:]+Z +took: \S+'), 'started: TIME took: DUR'),
    (re.compile(r'mailcheck-[0-9a-f]{20}'), 'mailcheck-RANDOM'),  # wildcard selector (random before issue 15)
    (re.compile(r' *\[incomplete\]'), ' [incomplete]'),  # where a slow peer's line was cut
    (re.compile(r'id=\d{14}\b'), 'id=NOW'),  # the MTA-STS id a fix proposes: the test's clock (mtastsNewID)
]

def mask(s):
    for rx, rep in MASKS:
        s = rx.sub(rep, s)
    return s

def files(d):
    out = {}
    for root, _, names in os.walk(d):
        for n in names:
            p = os.path.join(root, n)
            if n == 'mailcheck':
                continue
            out[os.path.relpath(p, d)] = mask(open(p, encoding='utf-8', errors='replace').read())
    return out

def grouped(fs):
    """A test's dumps as a multiset: a test that loops over a map dumps
    in a different order each run."""
    out = {}
    for k, v in fs.items():
        m = re.match(r'(tests/.*)\.\d+\.json$', k)
        if m:
            out.setdefault(m.group(1), []).append(v)
        else:
            out[k] = v
    return {k: sorted(v) if isinstance(v, list) else v for k, v in out.items()}

a, b = grouped(files(sys.argv[1])), grouped(files(sys.argv[2]))
bad = 0
for k in sorted(set(a) | set(b)):
    if k not in a or k not in b:
        print('only in one snapshot:', k); bad += 1
    elif a[k] != b[k]:
        bad += 1
        print('differs:', k)
        la, lb = str(a[k]).splitlines(), str(b[k]).splitlines()
        for i, (x, y) in enumerate(zip(la, lb)):
            if x != y:
                print('  -', x[:300]); print('  +', y[:300]); break
print(f'{len(set(a) | set(b))} reports compared (test dumps grouped per test), {bad} differ')
sys.exit(1 if bad else 0)
