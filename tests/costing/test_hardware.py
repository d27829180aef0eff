"""Shipped profiles and user profile files."""

from __future__ import annotations

from pathlib import Path

import pytest

from xpfotrace import InputError, UsageError
from xpfotrace.costing.hardware import PARAMS, builtin_profiles, find_profiles, load_profile_file


def test_required_profiles_ship_with_sources() -> None:
    profs = builtin_profiles()
    names = [p.name for p in profs]
    for part in ("3550", "8160", "epyc"):
        assert any(part in n for n in names), part
    assert any(k in n for n in names for k in ("graviton", "altra", "neoverse"))
    assert [p.cpus for p in find_profiles(["3550", "8160"])] == [4, 96]
    for p in profs:
        cited = {s.get("param") for s in p.sources}
        assert set(PARAMS[:-1]) | {"cpus"} <= cited, p.name  # every value cites a source
        assert all(s["source"] for s in p.sources)
    assert find_profiles(["epyc"])[0].broadcast_invalidate
    # a current server (MODEL.md section 7 asks for Sapphire Rapids or Zen 4)
    assert find_profiles(["9654"])[0].cpus == 384


def test_profile_file_and_field_errors(tmp_path: Path) -> None:
    good = tmp_path / "mine.toml"
    good.write_text('name = "box"\ncpus = 8\ninvlpg_ns = 100\nfull_flush_ns = 2000\n'
                    'ipi_base_ns = 700\nipi_per_target_ns = 70\nipi_recv_ns = 700\n'
                    'broadcast_invalidate = false\nflush_call_ns = 300\npte_write_ns = 60\n'
                    'cacheline_ns = 90\n')
    (p,) = load_profile_file(str(good))
    assert (p.name, p.cpus, p.full_flush_ns) == ("box", 8, 2000)
    assert find_profiles(["box"], [p])[0] is p
    missing = tmp_path / "missing.toml"
    missing.write_text(good.read_text().replace("ipi_recv_ns = 700\n", ""))
    with pytest.raises(InputError, match="missing field 'ipi_recv_ns'"):
        load_profile_file(str(missing))
    negative = tmp_path / "neg.toml"
    negative.write_text(good.read_text().replace("invlpg_ns = 100", "invlpg_ns = -1"))
    with pytest.raises(InputError, match="'invlpg_ns' must not be negative"):
        load_profile_file(str(negative))
    for field in ("flush_call_ns", "pte_write_ns", "cacheline_ns"):  # MODEL.md section 7
        lacking = tmp_path / f"no-{field}.toml"
        lacking.write_text("\n".join(line for line in good.read_text().splitlines()
                                     if not line.startswith(field)))
        with pytest.raises(InputError, match=f"missing field '{field}'"):
            load_profile_file(str(lacking))
        wrong = tmp_path / f"bad-{field}.toml"
        wrong.write_text(good.read_text().replace(f"{field} = ", f"{field} = 1.5 #"))
        with pytest.raises(InputError, match=f"'{field}' must be whole ns"):
            load_profile_file(str(wrong))
        text = tmp_path / f"str-{field}.toml"
        text.write_text(good.read_text().replace(f"{field} = ", f'{field} = "1" #'))
        with pytest.raises(InputError, match=f"'{field}' must be a number"):
            load_profile_file(str(text))


def test_unknown_and_ambiguous_names() -> None:
    with pytest.raises(UsageError, match="unknown profile"):
        find_profiles(["cray"])
    with pytest.raises(UsageError, match="ambiguous"):
        find_profiles(["-"])
