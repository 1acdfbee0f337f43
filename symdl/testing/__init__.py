"""Ground truth for kernels: the spec evaluated by mpmath at high precision,
and the checks that hold every kernel entry point to it.

Used by symdl's own tests and available to users for their own specs
(``symdl generate --spec-file`` renders them; ``check_activation`` proves
them)::

    res = check_activation(spec, bundle)     # forward, backward, fused, serial
    res.assert_ok()                           # and parallel, parameter gradients

``check_loss`` (term losses), ``check_class_loss`` (cross_entropy, nll_loss),
``check_softmax`` (the softmax family, glu, maxout), ``check_optimizer`` (``check_optimizer_of``: an optimizer instance).

``symdl.testing.mutants`` perturbs generated kernels' outputs and shows the
checks reject every such mutant.  Imports SymPy and mpmath.
"""
from .truth import (BOUNDS, DPS, PURE_REL_F64, Report, compare, evaluate, limit_at, map_loops,  # noqa: F401
                    pure_relative_failures, sample_points, truths)
from .bounds import PURE_REL, PURE_REL_EXCEPTIONS, CheckResult  # noqa: F401,E402
from .activation import check_activation  # noqa: F401,E402
from .loss import check_loss  # noqa: F401,E402
from .optimizer import check_optimizer, check_optimizer_of  # noqa: F401,E402
from .vector import check_softmax  # noqa: F401,E402
from .class_loss import check_class_loss  # noqa: F401,E402
