"""The gradient machinery behind the gradient callbacks (private), one module per stage.

`capture` sees the gradients an update applies inside the compiled step and
writes their squared norms (`norms`) into a ring buffer; `logs` puts them into
Keras's step and epoch logs and `client` is what a callback holds to read the
ring. `tap` ties the stages to one model for one fit, and `health` is the
detector's criterion on the norms.
"""
