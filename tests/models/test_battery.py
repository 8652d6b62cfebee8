"""Every registered model (built-ins and installed plugins) passes the checks that ship with the package."""

from __future__ import annotations

import pytest

from workbench.models import registry
from workbench.models.checks import CHECKS, factory_for


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", registry.names())
def test_model_passes_the_checks(name, check):
    check(factory_for(name))
