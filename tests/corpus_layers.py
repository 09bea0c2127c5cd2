"""The custom classes of the client-model corpus (`tests/corpus.py`).

Written after public Keras examples: the text-classification transformer's
token + position embedding and block, a model with its own `train_step` (the
"customizing fit" guide, TensorFlow, PyTorch and JAX versions) and a GAN with two
optimizers (TensorFlow and PyTorch). Registered (package "corpus") so the models
round-trip through `.keras` files.
"""

from __future__ import annotations

from typing import Any

import keras


def loss_and_grads(loss_of: Any, variables: list[Any]) -> tuple[Any, list[Any]]:
    """`loss_of()` (a loss or `(loss, aux)`) and d loss / d `variables`, on a stateful trainer.

    `tf.GradientTape` on TensorFlow, `torch.autograd.grad` on PyTorch (the two
    backends whose `train_step` updates variables in place).
    """
    if keras.backend.backend() == "torch":
        import torch  # PyTorch backend only

        result = loss_of()
        loss = result[0] if isinstance(result, tuple) else result
        return result, list(torch.autograd.grad(loss, [v.value for v in variables]))
    import tensorflow as tf  # TensorFlow backend only

    with tf.GradientTape() as tape:
        result = loss_of()
    loss = result[0] if isinstance(result, tuple) else result
    return result, tape.gradient(loss, variables)


@keras.saving.register_keras_serializable(package="corpus")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Token embedding plus a learned position embedding (Keras's text-classification example)."""

    def __init__(self, maxlen: int, vocab_size: int, embed_dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.maxlen, self.vocab_size, self.embed_dim = maxlen, vocab_size, embed_dim
        self.token_emb = keras.layers.Embedding(vocab_size, embed_dim, name="token")
        self.pos_emb = keras.layers.Embedding(maxlen, embed_dim, name="position")

    def call(self, x: Any) -> Any:
        positions = keras.ops.arange(0, keras.ops.shape(x)[-1], 1)
        return self.token_emb(x) + self.pos_emb(positions)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "maxlen": self.maxlen, "vocab_size": self.vocab_size,
                "embed_dim": self.embed_dim}


@keras.saving.register_keras_serializable(package="corpus")
class TransformerBlock(keras.layers.Layer):
    """Post-norm transformer encoder block: attention + FFN, residuals, LayerNormalization."""

    def __init__(self, embed_dim: int, num_heads: int, ff_dim: int, rate: float = 0.1,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.embed_dim, self.num_heads, self.ff_dim, self.rate = embed_dim, num_heads, ff_dim, rate
        self.att = keras.layers.MultiHeadAttention(num_heads, embed_dim // num_heads, name="mha")
        self.ffn1 = keras.layers.Dense(ff_dim, activation="relu", name="ffn1")
        self.ffn2 = keras.layers.Dense(embed_dim, name="ffn2")
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm1")
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm2")
        self.drop1 = keras.layers.Dropout(rate)
        self.drop2 = keras.layers.Dropout(rate)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        h = self.norm1(inputs + self.drop1(self.att(inputs, inputs), training=training))
        return self.norm2(h + self.drop2(self.ffn2(self.ffn1(h)), training=training))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "embed_dim": self.embed_dim,
                "num_heads": self.num_heads, "ff_dim": self.ff_dim, "rate": self.rate}


@keras.saving.register_keras_serializable(package="corpus")
class CustomStep(keras.Model):
    """A Functional model subclass with its own `train_step` (Keras's "customizing fit" guide)."""

    def train_step(self, *args: Any) -> Any:
        if keras.backend.backend() == "jax":
            return self._jax_train_step(*args)
        x, y = args[0]

        def loss_of() -> tuple[Any, Any]:
            y_pred = self(x, training=True)
            return self.compute_loss(x=x, y=y, y_pred=y_pred), y_pred

        (loss, y_pred), grads = loss_and_grads(loss_of, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return self._update_metrics(loss, y, y_pred)

    def _update_metrics(self, loss: Any, y: Any, y_pred: Any) -> dict[str, Any]:
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    def _jax_train_step(self, state: Any, data: Any) -> Any:
        import jax  # JAX backend only

        trainable, non_trainable, optimizer_vars, metrics_vars = state
        x, y = data

        def loss_fn(trainable: Any, non_trainable: Any) -> Any:
            y_pred, non_trainable = self.stateless_call(trainable, non_trainable, x,
                                                        training=True)
            loss = keras.losses.sparse_categorical_crossentropy(y, y_pred)
            return keras.ops.mean(loss), (y_pred, non_trainable)

        (loss, (y_pred, non_trainable)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            trainable, non_trainable)
        trainable, optimizer_vars = self.optimizer.stateless_apply(optimizer_vars, grads,
                                                                   trainable)
        logs, new_metrics_vars, offset = {}, [], 0
        for metric in self.metrics:
            size = len(metric.variables)
            current = metrics_vars[offset:offset + size]
            offset += size
            if metric.name == "loss":
                current = metric.stateless_update_state(current, loss)
            else:
                current = metric.stateless_update_state(current, y, y_pred)
            logs[metric.name] = metric.stateless_result(current)
            new_metrics_vars += current
        return logs, (trainable, non_trainable, optimizer_vars, new_metrics_vars)


@keras.saving.register_keras_serializable(package="corpus")
class GAN(keras.Model):
    """A GAN with two optimizers applied inside `train_step` (Keras's GAN example).

    `compile(d_optimizer, g_optimizer)` also calls `keras.Model.compile` with its
    defaults, so `model.optimizer` is an optimizer that never steps: the case
    gradient callbacks must see through (issue 10, item 4).
    """

    def __init__(self, discriminator: keras.Model, generator: keras.Model, latent_dim: int,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.discriminator, self.generator, self.latent_dim = discriminator, generator, latent_dim
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, x: Any) -> Any:
        return self.discriminator(x)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "latent_dim": self.latent_dim,
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "generator": keras.saving.serialize_keras_object(self.generator)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GAN:
        config = dict(config)
        for key in ("discriminator", "generator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    @property
    def metrics(self) -> list[Any]:
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer: Any = "adam", g_optimizer: Any = "adam", **kwargs: Any) -> None:
        super().compile(**kwargs)
        self.d_optimizer = keras.optimizers.get(d_optimizer)
        self.g_optimizer = keras.optimizers.get(g_optimizer)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def train_step(self, data: Any) -> Any:
        if keras.backend.backend() not in ("tensorflow", "torch"):
            raise NotImplementedError("the corpus GAN's train_step is written for TensorFlow "
                                      "and PyTorch")
        real = data[0] if isinstance(data, tuple) else data
        batch = keras.ops.shape(real)[0]
        noise = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        fake = self.generator(noise)
        images = keras.ops.concatenate([fake, real], axis=0)
        labels = keras.ops.concatenate([keras.ops.ones((batch, 1)), keras.ops.zeros((batch, 1))])
        d_loss, grads = loss_and_grads(lambda: self.loss_fn(labels, self.discriminator(images)),
                                       self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights,
                                             strict=True))
        noise = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        g_loss, grads = loss_and_grads(
            lambda: self.loss_fn(keras.ops.zeros((batch, 1)),
                                 self.discriminator(self.generator(noise))),
            self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights,
                                             strict=True))
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}
