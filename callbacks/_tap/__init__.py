"""The gradient machinery behind the gradient callbacks (private).

`tap` installs the capture into a model's train step, `step` holds the
wrappers that run inside the traced step, `norms` reduces gradients to
squared norms, `client` is what a callback holds to read them, and `health`
is the detector's criterion on those norms.
"""
