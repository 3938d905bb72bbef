"""A thread's identity is where it lives and what the world registered it as, never a Python
qualified name or repr (issue 9.1). Each world here used to alias: two threads whose programs
shared a qualified name and an argument repr shared one live generator, so one host received
the other's answers."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from udpsem.base.choice import RandomChooser
from udpsem.base.time import S
from udpsem.core.drivers import simulate
from udpsem.explore.fingerprint import Keyer
from udpsem.network.faults import Faults
from udpsem.programs.runtime import GeneratorRuntime
from udpsem.programs.world import HostSpec, build_world
from udpsem.state.components import ModCall, get, new

Gen = Generator[Any, Any, Any]


def _modrets(hosts: list[HostSpec]) -> dict[str, list[Any]]:
    setup, world = build_world(hosts, Faults(), GeneratorRuntime(), horizon=1 * S)
    out: dict[str, list[Any]] = {h.name: [] for h in hosts}
    for st in simulate(setup, world, RandomChooser(0)):
        lab = st.transition.label
        if lab.kind == "modret":
            out[lab.host].append(lab.value)
    return out


def test_two_lambdas_in_one_module_are_two_threads() -> None:
    # The README's pattern: each host's application is a lambda calling its module. The two
    # lambdas share module, qualified name (`<lambda>`) and argument `()`; their second calls
    # differ. Aliased, A's application resumed B's generator and called "second_b".
    def first_fast() -> Gen:
        yield new(0)
        return "first"

    def first_slow() -> Gen:  # B's first call returns after A's: A resumes first
        for _ in range(3):
            yield new(0)
        return "first"

    def second(tag: str) -> Callable[[], Gen]:
        def fn() -> Gen:
            yield new(0)
            return tag
        return fn

    hosts = [HostSpec("A", ["10.0.0.1"],
                      lambda: [(yield ModCall("first")), (yield ModCall("second_a"))],
                      module={"first": first_fast, "second_a": second("a")}),
             HostSpec("B", ["10.0.0.2"],
                      lambda: [(yield ModCall("first")), (yield ModCall("second_b"))],
                      module={"first": first_slow, "second_b": second("b")})]
    assert _modrets(hosts) == {"A": ["first", "a"], "B": ["first", "b"]}


def _factory(name: str) -> Callable[[], Gen]:
    def who_am_i() -> Gen:
        yield new(0)
        return name

    return who_am_i


def test_two_closures_of_one_factory_on_two_hosts() -> None:
    # Aliased, the closure on host A returned host B's name.
    hosts = [HostSpec("A", ["10.0.0.1"], lambda: (yield ModCall("me")),
                      module={"me": _factory("A")}),
             HostSpec("B", ["10.0.0.2"], lambda: (yield ModCall("me")),
                      module={"me": _factory("B")})]
    assert _modrets(hosts) == {"A": ["A"], "B": ["B"]}


def test_one_function_registered_under_two_names() -> None:
    calls: list[str] = []

    def step(tag: str) -> Gen:
        loc = yield new(tag)
        return (yield get(loc))

    def app() -> Gen:
        a = yield ModCall("first", ("x",))
        b = yield ModCall("second", ("x",))
        calls.extend([a, b])

    hosts = [HostSpec("A", ["10.0.0.1"], app, module={"first": step, "second": step})]
    assert _modrets(hosts) == {"A": ["x", "x"]}
    setup, world = build_world(hosts, Faults(), GeneratorRuntime(), horizon=1 * S)
    codes = {}
    for st in simulate(setup, world, RandomChooser(0)):
        for m in st.world.machines:
            for s in m.snippets:
                codes.setdefault(s.code.name, s.code.who)
    assert codes == {"A/first": ("A", 0, "first"), "A/second": ("A", 0, "second")}


def test_created_threads_are_identified_by_their_creator() -> None:
    from udpsem.hosts.calls import create

    seen: list[Any] = []

    def child(tag: str) -> Gen:
        yield new(tag)

    def start() -> Gen:
        yield create(child, ("c",))

    hosts = [HostSpec(h, [a], lambda: (yield ModCall("start")), module={"start": start})
             for h, a in (("A", "10.0.0.1"), ("B", "10.0.0.2"))]
    setup, world = build_world(hosts, Faults(), GeneratorRuntime(), horizon=1 * S)
    for st in simulate(setup, world, RandomChooser(0)):
        for m in st.world.machines:
            for s in m.snippets:
                if s.tid != 0:
                    seen.append((m.name, s.code.who[0], s.code.digest))
    by_host: dict[str, set[bytes]] = {}
    for host, kind, d in seen:
        assert kind == "create"
        by_host.setdefault(host, set()).add(d)
    assert set(by_host) == {"A", "B"}
    assert not (by_host["A"] & by_host["B"])  # same program, same argument, two threads


def test_frame_keys_tell_two_lambdas_on_one_line_apart() -> None:
    # Exploration keys a suspended thread by its frame; two different lambdas on one line at
    # the same offset with the same locals must still get different keys.
    rt = GeneratorRuntime()
    f, g = (lambda: (yield new(1))), (lambda: (yield new(2)))
    cf, _ = rt.start(f, (), ("A", 0, "f"))
    cg, _ = rt.start(g, (), ("A", 0, "g"))
    keyer = Keyer(rt, horizon=S)
    assert keyer.code(cf) != keyer.code(cg)
    # and the same program started twice is keyed alike (structural fingerprints work)
    cf2, _ = rt.start(f, (), ("A", 0, "f"))
    assert keyer.code(cf) == keyer.code(cf2)


def test_code_digest_has_no_repr_of_arguments() -> None:
    # The seed encodes the argument by structure: equal data give equal digests in any
    # process; the identity is (host, tid, name).
    rt = GeneratorRuntime()

    def prog(x: Any) -> Gen:
        yield new(x)

    a, _ = rt.start(prog, ({"b": 1, "a": 2},), ("H", 0, "p"))
    b, _ = rt.start(prog, ({"a": 2, "b": 1},), ("H", 0, "p"))
    c, _ = rt.start(prog, ({"a": 2, "b": 1},), ("H", 1, "p"))
    assert a.digest == b.digest != c.digest
