"""The development stack: the one way tests, benchmarks and the demo start and wait for processes.

It starts each component exactly as a user would, through its command line, on loopback: the
registry core (``quay-registry serve``, :mod:`devstack.registry`), the OpenShift simulator
(``quay-bridge sim``, :mod:`devstack.sim`), the operator (``quay-bridge run``,
:mod:`devstack.operator`) and, where a real API server is wanted, etcd with kube-apiserver and
kube-controller-manager (:mod:`devstack.realapi`). :class:`devstack.stack.Stack` puts the first
three together in one work directory, as the demo runs them. Every process gets its own log file,
its own process group and a free port, and every wait is bounded and says what it waited for
(:mod:`devstack.waiting`). It imports no component: it meets them as processes, over HTTP.
"""
