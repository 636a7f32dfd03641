import subprocess
import sys


def test_retaining_freed_memory_is_idempotent_and_releasable():
    code = (
        "from sr_desktop.core import cpu_memory as m\n"
        "a = m.retain_freed_memory(); b = m.retain_freed_memory(); m.release_freed_memory()\n"
        "import numpy as np\n"
        "x = np.ones(64 << 20, dtype=np.uint8); del x  # large blocks still work\n"
        "print(a, b)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.split()
    assert first == second
    if sys.platform.startswith("linux"):
        assert first == "True"
