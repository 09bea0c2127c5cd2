"""The old import name `callbacks`: an alias of `keras_recipes.callbacks`, kept for existing code.

Installed as a top-level module by `pip install .`; see `keras_recipes.callbacks._old_names`.
"""

from keras_recipes.callbacks._old_names import alias

alias("callbacks")
