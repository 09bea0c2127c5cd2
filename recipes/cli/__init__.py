"""The command-line application `keras-recipes`, kept apart from the library.

`main` parses the command line (`recipes.cli.main`) and dispatches to
`training_run` (train) or `inspection_runs` (checklist, lr-find, tune);
`commands` holds what they share (data, recipe, exit codes), `recipe_spec`
turns a recipe mapping into the factories' arguments, `user_data` reads the
user's CSV / NPZ and `report` writes the report folder. Nothing in the
library imports this package.

Example:

```bash
keras-recipes train --epochs 20
keras-recipes tune --trials 10 --epochs 5
```
"""

from .main import main

__all__ = ["main"]
