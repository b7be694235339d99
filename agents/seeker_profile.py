"""The act-level seeker's persona: survey traits turned into the parameters of its behaviour.

Persona -> parameters, the ONE table of the seeker's behaviour (Big-Five A, C, E, N, O on 1-5,
missing -> 3; decision style s = clip((rational - feeling) / 2, -1, 1), missing -> 0):

| parameter                                | formula                                            |
|------------------------------------------|----------------------------------------------------|
| support per facts turn, w_facts          | 0.65 + 0.45 s   (rational 1.1, emotional 0.2)      |
| support per opinion turn, w_opinion      | 0.65 - 0.45 s   (rational 0.2, emotional 1.1)      |
| support per encouragement, w_encourage   | 0.35 (A - 3)    (pushy, negative, when A < 3)      |
| support per rapport turn, w_rapport      | max(0, 0.1 + 0.1 (A - 3) + 0.1 max(0, -s))         |
| acceptance threshold T                   | clip(1.2 + 0.25 (N - 3) - 0.15 (O - 3), 0.8, 1.8)  |
| interest threshold                       | 0.4 T                                              |
| informative turns needed before deciding | 2 if C >= 4 else 1                                 |
| patience (unproductive turns tolerated)  | clip(round(3 + (E - 3) + 0.5 (A - 3)), 2, 5)       |
| P(answer a generic question)             | clip(0.3 + 0.1 (E - 3) + 0.05 (O - 3), 0.1, 0.6)   |
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rso.data.records import Persona


@dataclass(frozen=True)
class SeekerProfile:
    """Persona-derived parameters of the act-level seeker (see the module docstring's table)."""

    style: float
    w_facts: float
    w_opinion: float
    w_encourage: float
    w_rapport: float
    threshold: float
    info_needed: int
    patience: int
    p_generic_reveal: float

    @classmethod
    def from_persona(cls, persona: Persona | None) -> SeekerProfile:
        """Derive the parameters from survey traits (missing traits count as the midpoint)."""
        big = persona.big_five if persona is not None else None
        a = big.agreeable if big else 3.0
        c = big.conscientious if big else 3.0
        n = big.neurotic if big else 3.0
        o = big.open if big else 3.0
        e = big.extrovert if big else 3.0
        rational = persona.rational if persona is not None else None
        feeling = persona.feeling if persona is not None else None
        s = 0.0
        if rational is not None and feeling is not None:
            s = float(np.clip((rational - feeling) / 2.0, -1.0, 1.0))
        return cls(
            style=s,
            w_facts=0.65 + 0.45 * s,
            w_opinion=0.65 - 0.45 * s,
            w_encourage=0.35 * (a - 3.0),
            w_rapport=max(0.0, 0.1 + 0.1 * (a - 3.0) + 0.1 * max(0.0, -s)),
            threshold=float(np.clip(1.2 + 0.25 * (n - 3.0) - 0.15 * (o - 3.0), 0.8, 1.8)),
            info_needed=2 if c >= 4.0 else 1,
            patience=int(np.clip(round(3 + (e - 3.0) + 0.5 * (a - 3.0)), 2, 5)),
            p_generic_reveal=float(np.clip(0.3 + 0.1 * (e - 3.0) + 0.05 * (o - 3.0), 0.1, 0.6)),
        )

    @property
    def fact_seeking(self) -> bool:
        """True when the seeker's questions ask for facts rather than feelings."""
        return self.style >= 0.0
