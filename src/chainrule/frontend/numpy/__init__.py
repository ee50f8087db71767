"""The implementation of chainrule.numpy, in topical layers (as jax/_src/numpy/ is split).

Each module imports only modules below it, in this order (lowest first):

    lax, core (frontend/)
    < ufuncs < transcendental < shapes < reductions < creation
    < indexing < manipulation < matrices < products < sorting < at
    < index_tricks < sized < calculus < statistics < linalg < polynomials
    < functional < special_normal < special < ufunc_methods < fft

The public namespaces (chainrule.numpy, .numpy.linalg, .numpy.special,
chainrule.scipy) only re-export from here; tests/test_import_layers.py holds
the order.
"""
