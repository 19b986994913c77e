"""Data-flow checks and scheduling, done before the first event is read.

Each algorithm declares the keys it reads (``Input``) and writes
(``Output``); the source declares what it provides.  Before any event is
processed the job checks that

- every input is produced by the source or by an algorithm that runs before,
- no key has two producers,
- the dependencies between top-level members have no cycle,

and, with ``job.scheduling: dataflow``, orders the top-level members so that
producers run before consumers (keeping the declared order where the data
allow).  :func:`graph_text` and :func:`graph_dot` draw the graph.
"""
from __future__ import annotations

import heapq

from .errors import DataFlowError, suggestion
from .sequence import Sequence


def _io(component) -> tuple[set[str], set[str]]:
    """Keys read from outside and keys written by a member (a sequence is seen as one node)."""
    if isinstance(component, Sequence):
        reads, writes = set(), {component.decision}
        for leaf in component.walk():
            if leaf is component:
                continue
            if isinstance(leaf, Sequence):
                writes.add(leaf.decision)
                continue
            r, w = _io(leaf)
            reads |= r - writes
            writes |= w
        return reads, writes
    reads = {key for attr, key in component.input_keys().items() if not component._inputs[attr].optional}
    reads |= set(component.extra_inputs().values())
    return reads, set(component.output_keys().values())


def producers(source, top: Sequence, where) -> dict[str, str]:
    """``{key: producer name}``; raises on a second producer of a key."""
    made: dict[str, str] = {key: source.name for key in source.provides()}
    for comp in top.walk():
        if comp is top:
            keys = [comp.decision]
        elif isinstance(comp, Sequence):
            keys = [comp.decision]
        else:
            keys = list(comp.output_keys().values())
        for key in keys:
            if key in made:
                raise DataFlowError(f"{key!r} is produced by both {made[key]!r} and {comp.name!r}; "
                                    f"rename one with its output key (e.g. {comp.name}.<output>=Other)",
                                    where(comp.name))
            made[key] = comp.name
    return made


def order(top: Sequence, where) -> list:
    """Top-level members ordered so that producers come first; stable otherwise."""
    members = top.members
    io = [_io(m) for m in members]
    producer_of = {}
    for i, (_, writes) in enumerate(io):
        for key in writes:
            producer_of[key] = i
    deps = [{producer_of[k] for k in reads if k in producer_of and producer_of[k] != i} for i, (reads, _) in enumerate(io)]
    indegree = [len(d) for d in deps]
    users = [[] for _ in members]
    for i, d in enumerate(deps):
        for j in d:
            users[j].append(i)
    ready = [i for i, n in enumerate(indegree) if n == 0]
    heapq.heapify(ready)
    out = []
    while ready:
        i = heapq.heappop(ready)
        out.append(i)
        for u in users[i]:
            indegree[u] -= 1
            if indegree[u] == 0:
                heapq.heappush(ready, u)
    if len(out) < len(members):
        stuck = [i for i in range(len(members)) if i not in out]
        cycle = _cycle(stuck, deps)
        path = " -> ".join(members[i].name for i in cycle)
        raise DataFlowError(f"the algorithms depend on each other in a cycle: {path}", where(members[cycle[0]].name))
    return [members[i] for i in out]


def _cycle(nodes: list[int], deps: list[set[int]]) -> list[int]:
    nodes_set = set(nodes)
    start = nodes[0]
    path, seen = [start], {start: 0}
    node = start
    while True:
        node = next(d for d in sorted(deps[node]) if d in nodes_set)
        if node in seen:
            cyc = path[seen[node]:] + [node]
            return list(reversed(cyc))
        seen[node] = len(path)
        path.append(node)


def check(source, top: Sequence, outputs, where, reorder: bool = False) -> None:
    """Validate the data flow (and reorder ``top.members`` when ``reorder``)."""
    made = producers(source, top, where)
    if reorder:
        top.members = order(top, where)
    available = set(source.provides())
    carried: dict[str, dict[str, tuple]] = {}  # key -> {setting: (value, who set it)}

    def visit(seq: Sequence) -> None:
        for member in seq.members:
            if isinstance(member, Sequence):
                visit(member)
                available.add(member.decision)
                continue
            for attr, key in member.input_keys().items():
                if key in available or member._inputs[attr].optional:
                    continue
                if key in made:
                    raise DataFlowError(
                        f"{member.name} reads {key!r}, which {made[key]!r} produces only later; move "
                        f"{made[key]!r} before {member.name!r} or set job.scheduling: dataflow", where(member.name))
                raise DataFlowError(f"{member.name} reads {key!r} ({attr}), but neither the source nor an earlier "
                                    f"algorithm produces it; {suggestion(key, available)}", where(member.name))
            _check_matches(member, carried, where)
            _carry(member, carried)
            available.update(member.output_keys().values())
    visit(top)
    available.add(top.decision)
    for stream in outputs:
        for key in stream.collections:
            if key not in available:
                raise DataFlowError(f"output {stream.name} writes {key!r}, which nothing produces; "
                                    f"{suggestion(key, available)}", where(stream.name))


def _check_matches(member, carried: dict, where) -> None:
    """Refuse a consumer whose settings differ from those its inputs were made with (``Input(match=...)``)."""
    mine = member.resolved()
    for attr, key in member.input_keys().items():
        made_with = carried.get(key, {})
        for ours, theirs in member._inputs[attr].match.items():
            if theirs not in made_with:
                continue  # made by the source or by a producer without that setting: nothing to compare
            value, origin = made_with[theirs]
            if mine[ours] != value:
                raise DataFlowError(
                    f"{member.name}.{ours} = {mine[ours]!r}, but its input {key!r} ({attr}) was made by "
                    f"{origin!r} with {theirs} = {value!r}; set {member.name}.{ours}: {value!r}",
                    where(member.name))


def _carry(member, carried: dict) -> None:
    """Record the settings each output of ``member`` was made with (its own, plus those of carried inputs)."""
    own = {k: (v, member.name) for k, v in member.resolved().items()}
    inputs = member.input_keys()
    for attr, key in member.output_keys().items():
        settings = dict(own)
        for source_attr in member._outputs[attr].carries:
            settings.update(carried.get(inputs[source_attr], {}))
        carried[key] = settings
#: the line ending :func:`graph_text` when an input has no producer
GRAPH_LEGEND = ("?: an optional input that neither the source nor an earlier algorithm produces "
                "(the algorithm runs without it)")


def graph_text(source, top: Sequence) -> str:
    """The data-flow graph as indented text: each algorithm with what it reads (from whom) and writes.

    An input nobody produces (only an optional one passes validation) reads ``<- ?``; a legend
    line at the end then explains the mark.
    """
    made = {key: source.name for key in source.provides()}
    lines = [f"{source.name} [{source.type_name}]", *(f"    out: {k}" for k in source.provides())]

    def visit(seq: Sequence, depth: int) -> None:
        for m in seq.members:
            pad = "  " * depth
            if isinstance(m, Sequence):
                lines.append(f"{pad}{m.name} [Sequence mode={m.mode}{' invert' if m.invert else ''}]")
                visit(m, depth + 1)
                made[m.decision] = m.name
                continue
            lines.append(f"{pad}{m.name} [{m.type_name}]")
            for key in [*m.input_keys().values(), *m.extra_inputs().values()]:
                lines.append(f"{pad}    in:  {key} <- {made.get(key, '?')}")
            for key in m.output_keys().values():
                lines.append(f"{pad}    out: {key}")
                made[key] = m.name
    visit(top, 0)
    if any(line.endswith(" <- ?") for line in lines):
        lines.append(GRAPH_LEGEND)
    return "\n".join(lines)


def graph_dot(source, top: Sequence) -> str:
    """The data-flow graph in Graphviz DOT (algorithms as boxes, keys as ellipses)."""
    out = ["digraph dataflow {", "  rankdir=LR;", f'  "{source.name}" [shape=box, style=filled, fillcolor="#dde"];']
    for key in source.provides():
        out.append(f'  "{source.name}" -> "key:{key}";')
        out.append(f'  "key:{key}" [label="{key}", shape=ellipse];')
    for m in top.leaves():
        out.append(f'  "{m.name}" [shape=box];')
        for key in [*m.input_keys().values(), *m.extra_inputs().values()]:
            out.append(f'  "key:{key}" -> "{m.name}";')
        for key in m.output_keys().values():
            out.append(f'  "{m.name}" -> "key:{key}";')
            out.append(f'  "key:{key}" [label="{key}", shape=ellipse];')
    out.append("}")
    return "\n".join(out)
