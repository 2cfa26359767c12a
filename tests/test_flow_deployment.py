"""The shipped prefect.yaml names only parameters the flow takes (a stale name fails the deployment's runs)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")


def test_prefect_yaml_parameters_are_flow_parameters():
    from pipeline.flows.read_scans import read_scans

    spec = yaml.safe_load((Path(__file__).resolve().parents[1] / "prefect.yaml").read_text())
    accepted = set(inspect.signature(read_scans.fn).parameters)
    for deployment in spec["deployments"]:
        assert set(deployment["parameters"]) <= accepted
        assert deployment["entrypoint"] == "pipeline/flows/read_scans.py:read_scans"
