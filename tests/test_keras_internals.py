"""Keras internals behind one door (callbacks/_keras_internals.py).

(a) An AST scan of recipes/ and callbacks/: outside `_keras_internals.py` no
module touches a `_`-prefixed member of an object that is not its own, nor
patches a Keras method. (b) Every private Keras member `_keras_internals`
uses exists in the installed Keras, on a real tensor, layer, model and
optimizer: a Keras upgrade that renames one fails here, in one place.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_recipes.callbacks import _keras_internals

ROOT = Path(__file__).resolve().parent.parent
DOOR = ROOT / "callbacks" / "_keras_internals.py"
SOURCES = sorted(p for p in [*(ROOT / "recipes").rglob("*.py"), *(ROOT / "callbacks").rglob("*.py")]
                 if p != DOOR)

KERAS_CLASSES = (keras.Model, keras.layers.Layer, keras.optimizers.Optimizer,
                 keras.optimizers.LossScaleOptimizer, keras.callbacks.Callback, keras.Variable,
                 keras.optimizers.schedules.LearningRateSchedule)
"""Classes whose methods a patch would replace (an assignment `x.<method> = ...`)."""

EXCEPTIONS: dict[str, str] = {}
"""`path:line` of a deliberate exception to the rules, with the reason (none at present)."""


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name != "_"


def _keras_method(name: str) -> bool:
    return any(callable(getattr(cls, name, None)) for cls in KERAS_CLASSES)


def _own_names(tree: ast.Module) -> set[str]:
    """Names that stand for the package's own code: its imports and module-level definitions."""
    own = {"self", "cls"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith(
                "keras_recipes")):
            own |= {alias.asname or alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            own |= {(a.asname or a.name).split(".")[0] for a in node.names
                    if a.name.startswith("keras_recipes")}
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            own.add(node.name)
    return own


def _is_own(node: ast.AST, own: set[str]) -> bool:
    if isinstance(node, ast.Name):
        return node.id in own
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "super")


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def violations(path: Path) -> list[str]:
    """What `path` does that only `_keras_internals.py` may do, as `path:line: what`."""
    tree = ast.parse(path.read_text())
    own = _own_names(tree)
    found = []

    def flag(node: ast.AST, what: str) -> None:
        name = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
        where = f"{name}:{node.lineno}"
        if where not in EXCEPTIONS:
            found.append(f"{where}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if _private(node.attr) and not _is_own(node.value, own):
                flag(node, f"private member .{node.attr} of an object not its own")
            if node.attr == "__dict__" and not _is_own(node.value, own):
                flag(node, "__dict__ of an object not its own (a patch)")
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else (
                func.attr if isinstance(func, ast.Attribute) else None)
            if name in ("getattr", "hasattr", "setattr", "delattr", "__setattr__",
                        "__getattribute__", "__delattr__") and len(node.args) >= 2:
                target, member = node.args[0], _literal(node.args[1])
                if _is_own(target, own):
                    continue
                writes = name in ("setattr", "delattr", "__setattr__", "__delattr__")
                if member is not None and _private(member):
                    flag(node, f"{name}(..., {member!r}) on an object not its own")
                elif writes and (member is None or _keras_method(member)):
                    flag(node, f"{name}(..., {member or '<a computed name>'}) may patch a method")
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if (isinstance(target, ast.Attribute) and not _is_own(target.value, own)
                        and _keras_method(target.attr)):
                    flag(target, f"assignment to .{target.attr}, a Keras method")
    return found


def test_only_the_internals_module_touches_keras_internals():
    found = [v for path in SOURCES for v in violations(path)]
    assert not found, "\n".join(found)
    stale = [where for where in EXCEPTIONS
             if not (ROOT / where.split(":")[0]).exists()]
    assert not stale, stale


def test_the_scan_catches_what_it_forbids(tmp_path):
    """The rules flag each kind of access (a scan that cannot fail would prove nothing)."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from . import _own\n"
        "import keras\n"
        "class Mine:\n"
        "    def run(self, model, optimizer, tensor, name):\n"
        "        self._fine = _own._fine_too\n"
        "        tensor._keras_history\n"                           # flagged
        "        getattr(optimizer, '_learning_rate', None)\n"      # flagged
        "        model.train_step = lambda data: {}\n"              # flagged
        "        model.__dict__['train_step'] = None\n"             # flagged
        "        object.__setattr__(optimizer, name, 0.5)\n"        # flagged
        "        object.__setattr__(model, 'report', 1)\n"          # a plain attribute: fine
        "        model.stop_training = True\n"                      # fine
        "        super()._private_of_our_base()\n")                 # fine
    lines = sorted(int(v.split(":")[1]) for v in violations(sample))
    assert lines == [6, 7, 8, 9, 10]


def _members_used_by_the_door() -> set[str]:
    """The private names `_keras_internals.py` touches on objects that are not its own."""
    tree = ast.parse(DOOR.read_text())
    own = _own_names(tree)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr) and not _is_own(
                node.value, own):
            names.add(node.attr)
        literal = _literal(node)
        if literal is not None and literal.isidentifier() and _private(literal):
            names.add(literal)
    return names


def test_the_list_of_private_members_is_complete():
    listed = {key.split(".", 1)[1] for key in _keras_internals.PRIVATE_MEMBERS}
    assert _members_used_by_the_door() == listed
    assert all(reason.strip() for reason in _keras_internals.PRIVATE_MEMBERS.values())


@pytest.fixture(scope="module")
def keras_objects():
    """A real tensor, layer, model and optimizer of the installed Keras, after one fit."""
    inputs = keras.Input((3,))
    dense = keras.layers.Dense(2, name="hidden")
    outputs = keras.layers.Dense(1)(dense(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "mse", loss_weights=[1.0])
    model.fit(np.ones((4, 3), "float32"), np.ones((4, 1), "float32"), verbose=0)
    return {"KerasTensor": outputs, "Layer": dense, "Model": model,
            "Optimizer": model.optimizer}


BACKEND_ONLY = {"Optimizer._all_reduce_sum_gradients": "tensorflow"}
"""Members of one backend's optimizer class."""


@pytest.mark.parametrize("key", sorted(_keras_internals.PRIVATE_MEMBERS))
def test_each_private_member_exists_in_the_installed_keras(key, keras_objects):
    owner, member = key.split(".", 1)
    backend = BACKEND_ONLY.get(key)
    if backend is not None and keras.backend.backend() != backend:
        pytest.skip(f"{key} exists on the {backend} backend only")
    assert hasattr(keras_objects[owner], member), (
        f"Keras {keras.__version__} has no {key}; callbacks/_keras_internals.py says why it is "
        "used: find the new way there")


@pytest.mark.parametrize("key", sorted(_keras_internals.PATCHED_METHODS))
def test_each_patched_method_exists(key, keras_objects):
    owner, member = key.split(".", 1)
    assert callable(getattr(keras_objects[owner], member, None)), key


def test_the_accessors_answer_on_a_real_model(keras_objects):
    model, dense = keras_objects["Model"], keras_objects["Layer"]
    layer, node_index, tensor_index = _keras_internals.producer(keras_objects["KerasTensor"])
    assert layer is model.layers[-1] and (node_index, tensor_index) == (0, 0)
    assert _keras_internals.producer(np.zeros(2)) is None
    assert len(_keras_internals.calls(dense)) == 1 and len(_keras_internals.consumers(dense)) == 1
    assert dense in _keras_internals.sublayers(model)
    assert _keras_internals.compile_loss_weights(model) == [1.0]
    assert isinstance(_keras_internals.learning_rate_setting(model.optimizer), keras.Variable)
    dense.trainable = False
    try:
        assert {id(v) for v in _keras_internals.trainable_when_unfrozen(model)} == {
            id(v) for v in model.weights}
    finally:
        dense.trainable = True


def test_attached_variables_ride_along_but_stay_out_of_checkpoints(keras_objects, tmp_path):
    optimizer = keras_objects["Optimizer"]
    own = len(optimizer.variables)
    extra = keras.Variable(np.zeros(3, "float32"), trainable=False)
    _keras_internals.attach_variables([optimizer], [extra])
    try:
        assert len(optimizer.variables) == own + 1
        store: dict = {}
        optimizer.save_own_variables(store)
        assert len(store) == own
        optimizer.load_own_variables(store)  # the counts agree: no skipped-loading warning
    finally:
        _keras_internals.detach_variables(optimizer, [extra])
    assert len(optimizer.variables) == own
    assert not {"save_own_variables", "load_own_variables"} & set(vars(optimizer))


def test_patches_are_undone_in_reverse_order():
    class Owner:
        def method(self):
            return "original"

    owner = Owner()
    patches = _keras_internals.Patches()
    patches.wrap(owner, "method", lambda original: lambda: original() + " once")
    patches.wrap(owner, "method", lambda original: lambda: original() + " twice")
    assert owner.method() == "original once twice"
    patches.undo()
    assert owner.method() == "original" and "method" not in vars(owner)
    assert inspect.ismethod(owner.method)
