"""refblas.py - the fixture and demo-model generators call pin() before they
import numpy: it re-executes the script with Debian's reference BLAS and
LAPACK (libblas3, liblapack3) ahead of whatever the machine's alternatives
select. OpenBLAS rounds differently (and differently per CPU), so a model
fitted by scikit-learn would otherwise differ in its last digits from one
machine to the next, and tools/check_generated.sh could not ask for the
committed files byte for byte."""
import os
import sys
import sysconfig


def pin():
    arch = sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu"
    dirs = [d for d in ("/usr/lib/%s/blas" % arch, "/usr/lib/%s/lapack" % arch)
            if os.path.exists(os.path.join(d, "lib%s.so.3" % os.path.basename(d)))]
    have = [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p]
    if not dirs or have[:len(dirs)] == dirs:
        return
    env = dict(os.environ, LD_LIBRARY_PATH=":".join(dirs + [p for p in have if p not in dirs]))
    os.execve(sys.executable, [sys.executable] + sys.argv, env)
