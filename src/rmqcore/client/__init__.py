"""Producers and consumers for rmqcore's broker and for Apache RocketMQ 4.x/5.x clusters.

The client composes the pieces: ``rmqcore.remoting`` (wire codec), ``rmqcore.transport``
(connections), ``rmqcore.message`` (model and codecs), ``rmqcore.rebalance`` (queue
allocation) and ``rmqcore.clock``. It never imports ``rmqcore.server``.
"""
