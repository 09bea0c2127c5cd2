"""Every numeric claim of the lectures, recomputed (and the slides' slips).

Each test is named after its claim, cites the deck (`/work/shared/seeds/`,
decks 000-004) and recomputes the number from Keras, the package or a
NumPy derivation; none only restates a constant. Backend-neutral: NumPy,
`keras.ops`, Keras optimizers' `apply`, and `_autodiff` below (the one
place that picks the backend's gradient function).

| id  | deck | claim |
| --- | ---- | ----- |
| C1  | 000 | initial loss of an uninformed 10-class softmax is -ln(0.1) = 2.3026 |
| C2  | 001 | sigmoid'(0) = 1/4, the largest value of sigmoid' |
| C3  | 001 | 1000 inputs, 500 active, bias: output std sqrt(501) = 22.4 (N(0, 1) weights), |
|     |     | sqrt(3/2) with weight std 1/sqrt(n_in) |
| C4  | 001 | Glorot uniform draws from [-r, r], r = sqrt(6 / (n_in + n_out)) |
| C5  | 001 | table 11-1 variances: Glorot 1/fan_avg, He 2/fan_in, LeCun 1/fan_in |
| C6  | 001 | each BN layer adds 4 parameters per input, 2 of them trainable (gamma, beta) |
| C7  | 001 | clipvalue: [0.9, 1000] -> [0.9, 1.0] |
| C8  | 001 | clipnorm: [0.9, 1000] -> unit-norm direction (see slip S2) |
| C9  | 001 | power scheduling eta(t) = eta0 / (1 + t/s)^c; Keras's `decay` = 1/s, c = 1 |
| C10 | 003 | BP1-BP4 give the same gradients as automatic differentiation |
| C11 | 000 | one hidden sigmoid layer: dL/dW2 = dL/do h, dL/dW1 = dL/do W2 h(1-h) x |
| C12 | 003 | deck 003's net (two sigmoid hidden layers, sigmoid output), quadratic and CE costs |
| C13 | 004 | momentum is an EMA m = beta m + (1-beta) g; E[m_k] = (1 - beta^k) E[g] (bias) |
| C14 | 001/004 | Adam (both moments, bias-corrected) = keras.optimizers.Adam, step for step |
| C15 | 001 | Keras's Adam epsilon is 1e-7 |
| C16 | 001 | table 11-2: momentum beats SGD; adaptive methods fast; AdaGrad stops too early |
| C17 | 002 | 2000 samples, batch 500 -> 4 iterations per epoch; < 3000 samples: full batch |
| C18 | 000 | default batch size 32, default learning rate 0.01 |

Slips (docs/slides.md): S1 000 dL/do of (y-o)^2 written 2(y-o);
S2 001 clipnorm fed [0.9, 1000] but printed for [0.9, 100]; S3 001 ELU with the
threshold at z < 1; S4 001 better init written std sqrt(n_in); S5 001
`LeakyReLU(alpha=0.2)` (Keras 3: `negative_slope`, default 0.3; text: 0.01);
S6 002 log loss "returns values between 0 and 1"; S7 001 pre-Keras-3 `lr=` /
`decay=`; S8 001 tanh "asymmetric about the origin" (it is odd); S9 001 clipping by
norm without "if ||g|| > c"; S10 001 BN's mu and sigma "at the end of training"
(moving averages, every step); S11 001 "|w_j| < 1" for N(0, 1) weights (68 %);
S12 001 "leaky ELU", `keras.optimizer`, `Layer.trainable`; S13 000 a momentum
velocity that is never updated; S14 002 "< 3000 samples: all the data" against its
own 2000-in-batches-of-500 example; S15 003 the step function "has no derivative";
S16 004 the update with m_k instead of m_(k+1); S17 004 m_hat / sqrt(v_hat) "an
unbiased estimator of the gradient with unit variance"; S18 epsilon inside the
square root (000/001) or outside (004). No number to recompute: "Table 11-2" naming
two tables in 001, 004 calling the activations "loss functions", 001's `Model =` and
`Keras.layers` capitals (docs/slides.md).
"""

from __future__ import annotations

import math
import warnings

import keras
import numpy as np
import pytest

import keras_recipes as recipes
from keras_recipes import checks

# ----------------------------------------------------------------- helpers


def _autodiff(fn, params: list[np.ndarray]) -> list[np.ndarray]:
    """Gradient of the scalar `fn(*tensors)` w.r.t. every array in `params` (float32)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        grads = jax.grad(lambda ps: fn(*ps))([np.asarray(p, "float32") for p in params])
        return [np.asarray(g, "float64") for g in grads]
    if backend == "torch":
        import torch

        ts = [torch.tensor(np.asarray(p, "float32"), requires_grad=True) for p in params]
        fn(*ts).backward()
        return [t.grad.numpy().astype("float64") for t in ts]
    import tensorflow as tf

    vs = [tf.Variable(np.asarray(p, "float32")) for p in params]
    with tf.GradientTape() as tape:
        value = fn(*vs)
    return [g.numpy().astype("float64") for g in tape.gradient(value, vs)]


def _np(tensor) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(tensor), dtype="float64")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _apply_steps(optimizer: keras.optimizers.Optimizer, theta0, grad_fn, steps: int) -> np.ndarray:
    """Run `optimizer` on a float32 variable; return the path (steps + 1, dim)."""
    var = keras.Variable(np.asarray(theta0, "float32"))
    path = [np.asarray(theta0, "float64")]
    for _ in range(steps):
        g = np.asarray(grad_fn(_np(var)), "float32")
        optimizer.apply([keras.ops.convert_to_tensor(g)], [var])
        path.append(_np(var))
    return np.array(path)


def _one_update(optimizer: keras.optimizers.Optimizer, grad) -> np.ndarray:
    """The change of a zero variable after one step with gradient `grad`."""
    return _apply_steps(optimizer, np.zeros(len(grad)), lambda _: grad, 1)[1]


# Deck 001's ill-conditioned valley f = (theta_1^2 + 100 theta_2^2) / 2.
_CURVATURE = np.array([1.0, 100.0])


def _valley(theta: np.ndarray) -> float:
    return float(0.5 * np.sum(_CURVATURE * theta**2))


def _valley_grad(theta: np.ndarray) -> np.ndarray:
    return _CURVATURE * theta


# ------------------------------------------------------------------ claims


def test_C1_initial_loss_is_ln10_deck000() -> None:
    y = np.arange(10).repeat(7)
    uniform = keras.ops.softmax(keras.ops.zeros((len(y), 10)))
    value = float(np.mean(_np(keras.losses.sparse_categorical_crossentropy(y, uniform))))
    assert value == pytest.approx(-math.log(0.1), abs=1e-5)
    assert round(value, 4) == 2.3026
    assert checks.expected_initial_loss(y, "sparse_categorical_crossentropy") == pytest.approx(
        value, abs=1e-5
    )
    # build_dnn's calibrated output starts there (checklist 1)
    keras.utils.set_random_seed(0)
    model = recipes.build_dnn((16,), 10, hidden=(32, 32))
    x = np.random.default_rng(0).normal(size=(len(y), 16)).astype("float32")
    initial = float(
        np.mean(_np(keras.losses.sparse_categorical_crossentropy(y, model.predict(x, verbose=0))))
    )
    assert initial == pytest.approx(value, abs=0.05)


def test_C2_sigmoid_derivative_at_zero_is_quarter_deck001() -> None:
    z = np.linspace(-6, 6, 121)
    (grad,) = _autodiff(lambda t: keras.ops.sum(keras.ops.sigmoid(t)), [z])
    assert grad[60] == pytest.approx(0.25, abs=1e-6)  # z = 0
    assert np.argmax(grad) == 60 and grad.max() <= 0.25 + 1e-6
    np.testing.assert_allclose(grad, _sigmoid(z) * (1 - _sigmoid(z)), atol=1e-6)
    # ten sigmoid layers with unit weights: the gradient shrinks at least (1/4)^depth
    assert np.prod(np.full(9, grad.max())) == pytest.approx(0.25**9, rel=1e-5)


def _output_std(
    weight_std: float, n_in: int = 1000, active: int = 500, samples: int = 20000
) -> float:
    rng = np.random.default_rng(1)
    x = np.zeros(n_in)
    x[:active] = 1.0
    w = rng.normal(0.0, weight_std, size=(samples, n_in))
    b = rng.normal(0.0, 1.0, size=samples)
    return float(np.std(w @ x + b))


def test_C3_std_of_sum_sqrt501_vs_sqrt_three_halves_deck001() -> None:
    unit = _output_std(1.0)
    scaled = _output_std(1.0 / math.sqrt(1000))
    assert unit == pytest.approx(math.sqrt(501), rel=0.02)
    assert round(unit, 0) == 22  # the slide's 22.4
    assert scaled == pytest.approx(math.sqrt(3 / 2), rel=0.02)


def test_C4_glorot_uniform_limit_deck001() -> None:
    n_in, n_out = 300, 100
    r = math.sqrt(6 / (n_in + n_out))
    w = _np(keras.initializers.GlorotUniform(seed=3)((n_in, n_out)))
    assert np.abs(w).max() <= r + 1e-7
    assert np.abs(w).max() > 0.99 * r
    assert w.var() == pytest.approx(r**2 / 3, rel=0.03)  # uniform on [-r, r]


@pytest.mark.parametrize(
    "activation, expected",
    [
        ("tanh", lambda fi, fo: 2 / (fi + fo)),  # Glorot: 1 / fan_avg
        ("sigmoid", lambda fi, fo: 2 / (fi + fo)),
        ("relu", lambda fi, fo: 2 / fi),  # He
        ("elu", lambda fi, fo: 2 / fi),
        ("selu", lambda fi, fo: 1 / fi),  # LeCun
    ],
)
@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_C5_initializer_variances_table_11_1_deck001(activation, expected, distribution) -> None:
    fan_in, fan_out = 800, 400
    name = recipes.initializer_for(activation, distribution)
    initializer = keras.initializers.get({"class_name": name, "config": {"seed": 7}})
    w = _np(initializer((fan_in, fan_out)))
    assert w.var() == pytest.approx(expected(fan_in, fan_out), rel=0.02)
    assert abs(w.mean()) < 0.01 * w.std()


def test_C6_batch_norm_adds_four_parameters_per_input_two_trainable_deck001() -> None:
    # deck 001's snippet: Flatten(28x28), BN, Dense(300, elu), BN, Dense(100, elu), BN, Dense(10)
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(300, activation="elu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(100, activation="elu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.input.shape[-1]
            assert sum(int(np.prod(w.shape)) for w in layer.weights) == 4 * n
            assert sum(int(np.prod(w.shape)) for w in layer.trainable_weights) == 2 * n
    non_trainable = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    assert non_trainable == 2 * (784 + 300 + 100)


def test_C7_clipvalue_deck001() -> None:
    update = _one_update(
        recipes.make_optimizer("sgd", learning_rate=1.0, clipvalue=1.0), [0.9, 1000.0]
    )
    np.testing.assert_allclose(-update, [0.9, 1.0], rtol=1e-6)


def test_C8_clipnorm_and_slip_S2_deck001() -> None:
    for fed, printed_by_keras in [
        ([0.9, 1000.0], [0.00089999964, 0.9999996]),
        ([0.9, 100.0], [0.00899964, 0.9999595]),
    ]:  # S2: the slide's print
        update = -_one_update(recipes.make_optimizer("sgd", learning_rate=1.0, clipnorm=1.0), fed)
        by_hand = np.array(fed) / np.linalg.norm(fed)
        np.testing.assert_allclose(update, by_hand, rtol=1e-6)
        np.testing.assert_allclose(update, printed_by_keras, rtol=1e-6)
        assert np.linalg.norm(update) == pytest.approx(1.0, rel=1e-6)
    # the slide's printed first component belongs to [0.9, 100], not to the [0.9, 1000] it feeds
    clip = recipes.make_optimizer("sgd", learning_rate=1.0, clipnorm=1.0)
    fed_1000 = -_one_update(clip, [0.9, 1000.0])
    assert fed_1000[0] != pytest.approx(0.00899964, rel=1e-2)


def test_C9_power_schedule_and_decay_is_one_over_s_deck001() -> None:
    eta0, s = 0.01, 10_000
    for c in (1.0, 0.5, 2.0):
        schedule = recipes.PowerSchedule(eta0, s=s, c=c)
        for t in (0, 1, 5_000, 10_000, 30_000):
            assert float(schedule(t)) == pytest.approx(eta0 / (1 + t / s) ** c, rel=1e-6)
    # the slide's SGD(lr=0.01, decay=1e-4): decay = 1/s, c = 1; halves at t = s
    optimizer = recipes.make_optimizer("sgd", learning_rate=eta0, decay=1e-4)
    var = keras.Variable(np.zeros(1, "float32"))
    optimizer.build([var])
    optimizer.iterations.assign(10_000)
    assert float(optimizer.learning_rate) == pytest.approx(eta0 / 2, rel=1e-6)
    inverse_time = keras.optimizers.schedules.InverseTimeDecay(eta0, decay_steps=1, decay_rate=1e-4)
    assert float(inverse_time(10_000)) == pytest.approx(float(optimizer.learning_rate), rel=1e-6)


def _sigmoid_net_grads_by_hand(params, x, y, cost):
    """BP1-BP4 of deck 003 for a net of sigmoid layers; returns dC/dW, dC/db per layer."""
    activations, zs = [x], []
    for w, b in zip(params[0::2], params[1::2]):
        zs.append(activations[-1] @ w + b)
        activations.append(_sigmoid(zs[-1]))
    a_out, n = activations[-1], len(x)
    if cost == "quadratic":  # C = mean_x ||y - a||^2 ; BP1: delta = grad_a C * sigma'(z)
        delta = (-2 * (y - a_out) / n) * a_out * (1 - a_out)
    else:  # cross-entropy: sigma'(z) cancels, delta = (a - y) / n
        delta = (a_out - y) / n
    grads = []
    for layer in range(len(zs) - 1, -1, -1):
        grads = [activations[layer].T @ delta, delta.sum(axis=0)] + grads  # BP4, BP3
        if layer:
            w = params[2 * layer]
            a = activations[layer]
            delta = (delta @ w.T) * a * (1 - a)  # BP2
    return grads


def _sigmoid_net_cost(cost):
    def fn(x, y, *params):
        # tensors: NumPy's operators cannot take a torch tensor that requires grad
        x, y = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)
        a = x
        for w, b in zip(params[0::2], params[1::2]):
            a = keras.ops.sigmoid(keras.ops.matmul(a, w) + b)
        if cost == "quadratic":
            return keras.ops.mean(keras.ops.sum((y - a) ** 2, axis=1))
        return -keras.ops.mean(
            keras.ops.sum(y * keras.ops.log(a) + (1 - y) * keras.ops.log(1 - a), axis=1)
        )

    return fn


def _random_net(sizes, seed):
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        params += [rng.normal(0, 0.8, (n_in, n_out)), rng.normal(0, 0.3, n_out)]
    return params


@pytest.mark.parametrize("cost", ["quadratic", "cross_entropy"])
def test_C10_bp1_to_bp4_equal_autodiff_deck003(cost) -> None:
    params = _random_net((5, 4, 3), seed=0)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 5)), rng.uniform(0.1, 0.9, (6, 3))
    by_hand = _sigmoid_net_grads_by_hand(params, x, y, cost)
    fn = _sigmoid_net_cost(cost)
    auto = _autodiff(lambda *ps: fn(np.float32(x), np.float32(y), *ps), params)
    for h, a in zip(by_hand, auto):
        np.testing.assert_allclose(h, a, rtol=2e-4, atol=2e-6)


def test_C11_one_hidden_layer_gradient_by_hand_deck000() -> None:
    rng = np.random.default_rng(2)
    w1, w2 = rng.normal(0, 0.7, (4, 3)), rng.normal(0, 0.7, (1, 4))  # slide: z = W1 x, o = W2 h
    x, y = rng.normal(size=3), 0.8
    h = _sigmoid(w1 @ x)
    o = float((w2 @ h)[0])
    dl_do = -2 * (y - o)  # (S1: the slide writes +2(y - o))
    dl_dw2 = dl_do * h[None, :]
    dl_dw1 = (dl_do * w2[0] * h * (1 - h))[:, None] * x[None, :]

    def loss(a, b):
        hidden = keras.ops.sigmoid(keras.ops.matmul(a, np.float32(x)))
        return (np.float32(y) - keras.ops.sum(b[0] * hidden)) ** 2

    auto_w1, auto_w2 = _autodiff(loss, [w1, w2])
    np.testing.assert_allclose(dl_dw1, auto_w1, rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(dl_dw2, auto_w2, rtol=2e-4, atol=1e-6)


@pytest.mark.parametrize("cost", ["quadratic", "cross_entropy"])
def test_C12_two_sigmoid_hidden_layers_and_sigmoid_output_deck003(cost) -> None:
    params = _random_net((3, 4, 4, 2), seed=3)  # h1 = g(b1 + W1 x), h2 = g(...), o = g(...)
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(5, 3)), rng.integers(0, 2, (5, 2)).astype("float64")
    by_hand = _sigmoid_net_grads_by_hand(params, x, y, cost)
    fn = _sigmoid_net_cost(cost)
    auto = _autodiff(lambda *ps: fn(np.float32(x), np.float32(y), *ps), params)
    assert len(by_hand) == 6
    for h, a in zip(by_hand, auto):
        np.testing.assert_allclose(h, a, rtol=2e-4, atol=2e-6)
    # the deepest layer gets the smallest gradient: every layer down multiplies by sigma' <= 1/4
    norms = [np.linalg.norm(g) for g in by_hand[0::2]]
    assert norms[0] < norms[2]


def test_C13_momentum_is_an_ema_deck004() -> None:
    eta, beta, steps = 0.019, 0.9, 60
    theta0 = np.array([-4.0, 0.4])
    keras_path = _apply_steps(
        keras.optimizers.SGD(learning_rate=eta, momentum=beta), theta0, _valley_grad, steps
    )
    alpha, m, theta, ema_path = eta / (1 - beta), np.zeros(2), theta0.copy(), [theta0.copy()]
    for _ in range(steps):
        m = beta * m + (1 - beta) * _valley_grad(theta)  # m_{k+1} = beta m_k + (1 - beta) g_k
        theta = theta - alpha * m
        ema_path.append(theta.copy())
    np.testing.assert_allclose(keras_path, np.array(ema_path), atol=2e-5)
    assert _valley(keras_path[-1]) < _valley(theta0) / 10


def test_C13_bias_of_the_moments_is_one_minus_beta_to_the_k_deck004() -> None:
    rng = np.random.default_rng(5)
    runs, steps, mean_g = 40_000, 30, 0.7
    for beta, moment in [(0.9, 1), (0.999, 2)]:
        m = np.zeros(runs)
        measured = []
        for _ in range(steps):
            g = rng.normal(mean_g, 1.0, runs)
            m = beta * m + (1 - beta) * g**moment
            measured.append(m.mean())
        target = mean_g if moment == 1 else mean_g**2 + 1.0  # E[g], E[g^2]
        k = np.arange(1, steps + 1)
        np.testing.assert_allclose(np.array(measured), (1 - beta**k) * target, rtol=0.03)
        corrected = np.array(measured) / (1 - beta**k)
        np.testing.assert_allclose(corrected, target, rtol=0.03)
        assert measured[0] < 0.15 * target  # uncorrected: far below at k = 1


def _adam_by_hand(theta0, grad_fn, lr, beta1, beta2, eps, steps):
    theta, m, v, path = np.array(theta0, "float64"), 0.0, 0.0, [np.array(theta0, "float64")]
    for k in range(1, steps + 1):
        g = grad_fn(theta)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1**k), v / (1 - beta2**k)
        # Keras adds epsilon to sqrt(v) before the correction: eps_hat = eps / sqrt(1 - beta2^k)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps / math.sqrt(1 - beta2**k))
        path.append(theta.copy())
    return np.array(path)


def test_C14_adam_by_hand_equals_keras_adam_step_for_step_deck001_deck004() -> None:
    lr, beta1, beta2, eps, steps = 0.05, 0.9, 0.999, 1e-7, 40
    theta0 = np.array([-4.0, 0.4])
    keras_path = _apply_steps(
        keras.optimizers.Adam(lr, beta_1=beta1, beta_2=beta2, epsilon=eps),
        theta0,
        _valley_grad,
        steps,
    )
    hand = _adam_by_hand(theta0, _valley_grad, lr, beta1, beta2, eps, steps)
    np.testing.assert_allclose(np.diff(keras_path, axis=0), np.diff(hand, axis=0), atol=3e-5)
    np.testing.assert_allclose(keras_path, hand, atol=2e-4)
    # bias correction makes the first step exactly lr in every coordinate
    np.testing.assert_allclose(np.abs(keras_path[1] - keras_path[0]), lr, rtol=1e-4)


def test_C15_adam_epsilon_recovered_from_a_step_deck001() -> None:
    # first Keras Adam step with gradient g: lr g / (|g| + eps / sqrt(1 - beta_2)); solve for eps
    lr, g = 1.0, 1e-6
    for optimizer in (keras.optimizers.Adam(learning_rate=lr), recipes.make_optimizer("adam", lr)):
        step = -_one_update(optimizer, [g])[0]
        assert g * (lr / step - 1) * math.sqrt(1 - 0.999) == pytest.approx(1e-7, rel=1e-3)
    # and with a zero gradient epsilon keeps the step finite (zero)
    assert _one_update(keras.optimizers.Adam(), [0.0])[0] == 0.0


def test_C16_optimizer_table_deck001() -> None:
    theta0, steps = np.array([-4.0, 0.4]), 100
    final = {
        name: _valley(
            _apply_steps(
                recipes.make_optimizer(name, learning_rate=rate), theta0, _valley_grad, steps
            )[-1]
        )
        for name, rate in [("sgd", 0.01), ("momentum", 0.01), ("nesterov", 0.01)]
    }
    # convergence speed: SGD * < momentum ** = Nesterov **
    assert final["momentum"] < final["sgd"] / 10 and final["nesterov"] < final["sgd"] / 10
    # adaptive methods: the first steps move each coordinate by about lr whatever the gradient scale
    tiny = lambda theta: 1e-4 * theta  # noqa: E731 - a nearly flat loss
    start = np.array([1.0])
    moved = {
        name: abs(
            _apply_steps(recipes.make_optimizer(name, learning_rate=0.01), start, tiny, 10)[-1, 0]
            - 1
        )
        for name in ("sgd", "rmsprop", "adam", "nadam", "adamax", "adagrad")
    }
    for name in ("rmsprop", "adam", "nadam", "adamax"):
        assert moved[name] > 100 * moved["sgd"], (name, moved)
    # AdaGrad "stops too early": its per-coordinate rate lr / sqrt(sum g^2) decays like 1/sqrt(k),
    # RMSProp's does not (constant gradient, 400 steps)
    slope = lambda theta: np.ones_like(theta)  # noqa: E731
    travelled = {
        name: abs(
            _apply_steps(recipes.make_optimizer(name, learning_rate=0.01), start, slope, 400)[-1, 0]
            - 1
        )
        for name in ("adagrad", "rmsprop")
    }
    assert travelled["adagrad"] < 0.15 * travelled["rmsprop"]
    assert travelled["adagrad"] == pytest.approx(
        0.01 * sum(1 / math.sqrt(k + 0.1) for k in range(1, 401)), rel=0.05
    )


def test_C17_iterations_per_epoch_2000_over_500_is_4_deck002() -> None:
    x = np.random.default_rng(6).normal(size=(2000, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    model.fit(x, y, batch_size=500, epochs=2, verbose=0)
    assert int(model.optimizer.iterations) == 2 * math.ceil(2000 / 500) == 8
    # fewer than 3000 samples: the whole set as one batch, one iteration per epoch
    model.fit(x, y, batch_size=len(x), epochs=3, verbose=0)
    assert int(model.optimizer.iterations) == 8 + 3


def test_C18_default_batch_32_and_learning_rate_001_deck000() -> None:
    x = np.zeros((100, 2), "float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(), "mse")
    model.fit(x, np.zeros((100, 1)), epochs=1, verbose=0)  # no batch_size given
    assert int(model.optimizer.iterations) == math.ceil(100 / 32) == 4
    for optimizer in (keras.optimizers.SGD(), recipes.make_optimizer("sgd")):
        assert -_one_update(optimizer, [1.0])[0] == pytest.approx(0.01, rel=1e-6)


# ------------------------------------------------------------------- slips


def test_S1_sign_of_dl_do_deck000() -> None:
    o, y = np.array([0.3, 1.7]), np.array([1.0, 1.0])
    (grad,) = _autodiff(lambda t: keras.ops.sum(keras.ops.subtract(np.float32(y), t) ** 2), [o])
    np.testing.assert_allclose(grad, -2 * (y - o), rtol=1e-6)
    assert np.all(np.sign(grad) == -np.sign(2 * (y - o)))  # the slide's sign is wrong
    step = 0.1
    assert np.sum((y - (o - step * grad)) ** 2) < np.sum((y - o) ** 2)
    assert np.sum((y - (o - step * 2 * (y - o))) ** 2) > np.sum((y - o) ** 2)  # uphill


def test_S3_elu_threshold_is_zero_not_one_deck001() -> None:
    z = np.array([-1.0, 0.5, 0.99, 1.0])
    keras_elu = _np(keras.activations.elu(z))
    slide = np.where(z < 1, np.exp(z) - 1, z)  # alpha (e^z - 1) for z < 1
    np.testing.assert_allclose(keras_elu, np.where(z < 0, np.exp(z) - 1, z), rtol=1e-6)
    assert keras_elu[1] == pytest.approx(0.5) and slide[1] == pytest.approx(0.6487, abs=1e-4)
    assert slide[2] == pytest.approx(math.e**0.99 - 1) and slide[2] - slide[3] > 0.6  # jumps at 1


def test_S4_std_sqrt_n_in_instead_of_one_over_sqrt_n_in_deck001() -> None:
    as_written = _output_std(math.sqrt(1000), samples=4000)
    assert as_written == pytest.approx(math.sqrt(500 * 1000 + 1), rel=0.05)  # about 707, not 1.22
    assert as_written > 30 * _output_std(1.0, samples=4000)


def test_S5_leaky_relu_alpha_is_negative_slope_in_keras3_deck001() -> None:
    z = np.array([-10.0, 2.0])
    np.testing.assert_allclose(_np(keras.layers.LeakyReLU()(z)), [-3.0, 2.0], rtol=1e-6)
    with pytest.warns(UserWarning, match="negative_slope"):
        slide = keras.layers.LeakyReLU(alpha=0.2)
    np.testing.assert_allclose(_np(slide(z)), [-2.0, 2.0], rtol=1e-6)
    common = keras.layers.LeakyReLU(negative_slope=0.01)
    np.testing.assert_allclose(_np(common(z)), [-0.1, 2.0], rtol=1e-6)


def test_S6_log_loss_is_not_bounded_by_one_deck002() -> None:
    y = np.array([1.0, 1.0, 0.0])
    p = np.array([0.1, 0.01, 0.5])
    values = _np(keras.losses.binary_crossentropy(y[:, None], p[:, None]))
    np.testing.assert_allclose(values, -np.log([0.1, 0.01, 0.5]), rtol=1e-4)
    assert values[0] > 1 and values[1] > 4  # -ln(0.1) = 2.30, -ln(0.01) = 4.61


def test_S7_pre_keras3_spelling_deck001() -> None:
    with pytest.raises(ValueError, match="lr"):
        keras.optimizers.SGD(lr=0.01)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dropped = keras.optimizers.SGD(learning_rate=0.01, decay=1e-4)
    assert any("decay" in str(w.message) for w in caught)
    var = keras.Variable(np.zeros(1, "float32"))
    dropped.build([var])
    dropped.iterations.assign(10_000)
    assert float(dropped.learning_rate) == pytest.approx(0.01)  # the schedule vanished
    kept = recipes.make_optimizer("sgd", learning_rate=0.01, decay=1e-4)
    kept.build([var])
    kept.iterations.assign(10_000)
    assert float(kept.learning_rate) == pytest.approx(0.005, rel=1e-6)


# ------------------------------------------------- slips found on a later read


def test_S8_tanh_is_odd_not_asymmetric_deck001() -> None:
    # 001 calls tanh "asymmetric about the origin"; it is odd (point-symmetric) and zero-centred
    z = np.linspace(-3, 3, 61)
    tanh, sigmoid = _np(keras.activations.tanh(z)), _np(keras.activations.sigmoid(z))
    np.testing.assert_allclose(tanh[::-1], -tanh, atol=1e-6)  # tanh(-z) = -tanh(z)
    assert abs(tanh.mean()) < 1e-6 and sigmoid.mean() == pytest.approx(0.5, abs=1e-6)


def test_S9_clipnorm_rescales_only_a_gradient_longer_than_c_deck001() -> None:
    # 001 writes g <- c g / ||g|| without its condition "if ||g|| > c"
    short = [0.3, 0.4]  # norm 0.5 < c = 1
    update = -_one_update(recipes.make_optimizer("sgd", learning_rate=1.0, clipnorm=1.0), short)
    np.testing.assert_allclose(update, short, rtol=1e-6)  # left alone
    as_written = np.array(short) / np.linalg.norm(short)  # [0.6, 0.8]: stretched to norm 1
    assert np.linalg.norm(update) == pytest.approx(0.5, rel=1e-6)
    assert not np.allclose(update, as_written, rtol=0.1)


def test_S10_batch_norm_moving_statistics_follow_every_training_step_deck001() -> None:
    # 001: mu and sigma "at the end of training"; they are moving averages updated at every step
    bn = keras.layers.BatchNormalization(momentum=0.99)
    x = np.random.default_rng(8).normal(5.0, 2.0, size=(64, 3)).astype("float32")
    means = []
    for _ in range(3):
        bn(x, training=True)
        means.append(_np(bn.moving_mean)[0])
    batch_mean = float(x[:, 0].mean())
    np.testing.assert_allclose(means, [(1 - 0.99**k) * batch_mean for k in (1, 2, 3)], rtol=1e-4)
    bn(x, training=False)  # inference reads them and leaves them as they are
    assert _np(bn.moving_mean)[0] == pytest.approx(means[-1], rel=1e-7)


def test_S11_about_68_percent_of_standard_normal_weights_have_abs_below_one_deck001() -> None:
    # 001: weights drawn with mean 0 and std 1 -> "|w_j| < 1"
    w = _np(keras.initializers.RandomNormal(stddev=1.0, seed=11)((200_000,)))
    assert np.mean(np.abs(w) < 1) == pytest.approx(math.erf(1 / math.sqrt(2)), abs=0.004)  # 0.683
    assert np.mean(np.abs(w) >= 1) > 0.3


def test_S12_names_and_spellings_that_keras_3_does_not_have_deck001() -> None:
    # "leaky ELU" (001's low-latency guideline) is no Keras activation; `keras.optimizer` is
    # `keras.optimizers`; the freezing loop needs the loop variable, `layer.trainable = False`
    with pytest.raises(ValueError, match="leaky_elu"):
        keras.activations.get("leaky_elu")
    assert not hasattr(keras, "optimizer") and hasattr(keras.optimizers, "SGD")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    for layer in model.layers[:-1]:
        layer.trainable = False
    assert [len(layer.trainable_weights) for layer in model.layers] == [0, 2]


def test_S13_momentum_with_a_velocity_that_is_never_updated_is_plain_sgd_deck000() -> None:
    # 000: theta <- theta + m v - alpha g, "v initially 0", with no update rule for v
    theta0, alpha, m, steps = np.array([-4.0, 0.4]), 0.01, 0.9, 30
    literal, theta, v = [theta0.copy()], theta0.copy(), np.zeros(2)
    for _ in range(steps):
        theta = theta + m * v - alpha * _valley_grad(theta)  # v stays 0
        literal.append(theta.copy())
    plain = _apply_steps(keras.optimizers.SGD(alpha), theta0, _valley_grad, steps)
    momentum = _apply_steps(keras.optimizers.SGD(alpha, momentum=m), theta0, _valley_grad, steps)
    np.testing.assert_allclose(np.array(literal), plain, atol=1e-5)
    assert _valley(momentum[-1]) < _valley(plain[-1]) / 10  # the velocity has to be updated


def test_S14_full_batch_rule_against_its_own_example_deck002() -> None:
    # 002: "< 3000 samples: use all the data", then 2000 samples in batches of 500
    x = np.random.default_rng(14).normal(size=(2000, 2)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    iterations = {}
    for batch_size in (len(x), 500):  # the rule (2000 < 3000: one batch), the example
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(keras.optimizers.SGD(0.01), "mse")
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
        iterations[batch_size] = int(model.optimizer.iterations)
    assert iterations == {2000: 1, 500: 4}  # by its own rule the example's epoch is 1 step, not 4


def test_S15_the_step_function_has_derivative_zero_not_none_deck003() -> None:
    # 003: the step function "has no derivatives at the extremes where the output is 0 or 1";
    # it has one, and it is 0 there; the sigmoid's is small but positive
    z = np.array([-3.0, -0.5, 0.5, 3.0])
    (step_grad,) = _autodiff(lambda t: keras.ops.sum((keras.ops.sign(t) + 1) / 2), [z])
    (sigmoid_grad,) = _autodiff(lambda t: keras.ops.sum(keras.ops.sigmoid(t)), [z])
    np.testing.assert_array_equal(step_grad, 0.0)
    assert np.all(sigmoid_grad > 0.04)  # sigma'(3) = 0.045


def test_S16_momentum_step_uses_the_average_just_computed_deck004() -> None:
    # 004 writes theta_{k+1} = theta_k - alpha m_k; with m_0 = 0 the first step would not move
    theta0, alpha, beta = np.array([-4.0, 0.4]), 0.19, 0.9
    g0 = _valley_grad(theta0)
    m1 = beta * 0.0 + (1 - beta) * g0
    as_written = theta0 - alpha * 0.0  # alpha m_0
    keras_step = _apply_steps(
        keras.optimizers.SGD(alpha * (1 - beta), momentum=beta), theta0, _valley_grad, 1
    )[1]
    np.testing.assert_allclose(as_written, theta0)
    np.testing.assert_allclose(keras_step, theta0 - alpha * m1, rtol=1e-5)  # alpha m_{k+1}
    assert np.abs(keras_step - theta0).max() > 0.7


def test_S17_adam_ratio_is_no_unbiased_unit_variance_gradient_estimate_deck004() -> None:
    # 004: m_hat / sqrt(v_hat) "is an unbiased estimator of the gradient with unit variance"
    rng = np.random.default_rng(17)
    runs, steps, beta1, beta2 = 20_000, 200, 0.9, 0.999
    for mean_g in (3.0, 0.01):
        m = v = np.zeros(runs)
        for _ in range(steps):
            g = rng.normal(mean_g, 1.0, runs)
            m, v = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g * g
        ratio = (m / (1 - beta1**steps)) / np.sqrt(v / (1 - beta2**steps))
        if mean_g == 3.0:
            assert 0.8 < ratio.mean() < 1.0  # about 0.95: far from the gradient, 3
        else:
            assert abs(ratio.mean()) < 0.05  # about mean_g / std(g), small either way
        assert ratio.var() < 0.3  # not unit variance (about (1 - beta1) / (1 + beta1) scaled)


def test_S18_epsilon_inside_or_outside_the_square_root_deck000_deck001_deck004() -> None:
    # 000/001: sqrt(v_hat + eps); 004 and Keras: sqrt(v_hat) + eps (Keras on the uncorrected v)
    eps, lr = 1e-7, 1.0
    for g, same in ((1.0, True), (1e-5, False)):
        m_hat, v_hat = g, g * g  # first step: the bias-corrected moments are g and g^2
        inside, outside = lr * m_hat / math.sqrt(v_hat + eps), lr * m_hat / (math.sqrt(v_hat) + eps)
        keras_step = -_one_update(keras.optimizers.Adam(lr, epsilon=eps), [g])[0]
        keras_form = lr * g / (abs(g) + eps / math.sqrt(1 - 0.999))
        assert keras_step == pytest.approx(keras_form, rel=1e-4)
        if same:
            assert inside == pytest.approx(outside, rel=1e-6)
        else:
            assert 25 < outside / inside < 35  # 0.99 vs 0.032: the inside form barely moves
