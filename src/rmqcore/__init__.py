"""rmqcore: pluggable messaging primitives modelled on Apache RocketMQ 5.x.

Pieces (each usable alone; each imports only ``rmqcore.message`` and
``rmqcore.clock`` besides its own files): ``rmqcore.store``, ``rmqcore.filter``,
``rmqcore.timer``, ``rmqcore.transaction``, ``rmqcore.rebalance``,
``rmqcore.remoting``. ``rmqcore.server`` and ``rmqcore.client`` compose them.
"""

__version__ = "0.1.0"
