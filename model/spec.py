"""AID as the registry hands it out: its operations, each importing AID's code only when called."""

from __future__ import annotations

from aidbench.model.info import aid_parameters
from aidbench.systems import System


def _aid_parameters(config):
    return aid_parameters(config)


def _aid_train(config, run, on_step=None):
    from aidbench.model.system import train

    return train(config, run, on_step)


def _aid_sample(config, run, checkpoint, split):
    from aidbench.model.system import sample

    return sample(config, run, checkpoint, split)


def _aid_check(config, split):
    from aidbench.model.components import preflight

    preflight(config, split)


AID = System(
    "aid", parameters=_aid_parameters, train=_aid_train, sample=_aid_sample, check=_aid_check, on_base=True
)
