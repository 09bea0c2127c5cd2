"""Writes tests/data/saved_before_rename/ with the package as it was before the keras_recipes root."""
import json
import sys

import keras
import numpy as np

import recipes
from callbacks import (
                       GradientNormLogger,
                       LRFinder,
                       MomentumScheduling,
                       OneCycleScheduler,
                       ParamScheduler,
                       PowerScheduling,
                       VanishingGradientDetector,
                       curves,
)

out = sys.argv[1]
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 6)).astype("float32"); y = rng.integers(0, 3, 64)
model = recipes.build_dnn((6,), 3, hidden=(8,), batch_norm="before")
opt = recipes.make_optimizer("sgd", 0.05, momentum=0.9, decay=1e-2)  # PowerSchedule in the optimizer
recipes.compile_recipe(model, opt)
model.fit(x, y, batch_size=16, epochs=2, verbose=0,
          callbacks=[GradientNormLogger(), VanishingGradientDetector(),
                     ParamScheduler({"momentum": curves.Linear(0.9, 0.95, steps=8)})])
model.save(f"{out}/model.keras")
np.save(f"{out}/x.npy", x)
np.save(f"{out}/predictions.npy", model.predict(x, verbose=0))
objects = [GradientNormLogger(every=2), VanishingGradientDetector(action="warn"),
           PowerScheduling(s=100, initial_learning_rate=0.01), OneCycleScheduler(0.1, total_steps=50), MomentumScheduling(ramp_epochs=5),
           ParamScheduler({"learning_rate": curves.Chain([(10, curves.Linear(0.0, 0.1, 10)), (0, curves.Power(0.1, 100))])}),
           LRFinder(), recipes.PowerSchedule(0.01, s=100, c=0.5)]
json.dump([keras.saving.serialize_keras_object(o) for o in objects], open(f"{out}/objects.json", "w"), indent=1)
print([type(o).__name__ for o in objects])
