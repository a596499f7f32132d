'use strict';

// Scenarios for the ali-ons Node.js RocketMQ 4.x client against rmqcore servers.
// Every outcome is one JSON object per line on stdout; the client's own logs go to stderr.
//
//   node scenario.js produce NAMESRV TOPIC COUNT PREFIX [TAGS] [DELAY_LEVEL]
//   node scenario.js consume NAMESRV TOPIC GROUP SUBEXPR EXPECTED TIMEOUT_S [fail_first]
//
// With fail_first the handler answers ACTION_RETRY to each message's first delivery
// (CONSUMER_SEND_MSG_BACK) and counts only its redelivery through %RETRY%GROUP.
//
// The topics must exist on the name server first: unlike the Java client, ali-ons does not
// fall back to the default topic's (TBW102) route when GET_ROUTEINFO_BY_TOPIC answers 17.
//
// TAGS is a comma list cycled over the messages ("" for none). The process always ends
// by itself: a hard deadline prints {"event":"timeout"} and exits with status 3.

const { Producer, Consumer, Message } = require('ali-ons');

const HARD_DEADLINE_MS = 90 * 1000;

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function common(nameSrv) {
  return {
    nameSrv,
    httpclient: {}, // required by the constructor; unused when nameSrv is given
    accessKeyId: 'dummy-access-key',
    accessKeySecret: 'dummy-secret-key',
    clientIP: '127.0.0.1',
  };
}

async function produce(nameSrv, topic, count, prefix, tags, delayLevel) {
  const tagList = tags ? tags.split(',') : [];
  const producer = new Producer({ ...common(nameSrv), producerGroup: 'PG_node_scenario' });
  producer.on('error', err => emit({ event: 'error', where: 'producer', message: String(err && err.message) }));
  await producer.ready();
  for (let i = 0; i < count; i++) {
    const tag = tagList.length ? tagList[i % tagList.length] : null;
    const msg = new Message(topic, tag, `${prefix}-${i}`);
    if (!tag) {
      delete msg.properties.TAGS; // else the client sends the property TAGS=null
    }
    msg.keys = [ `key-${prefix}-${i}` ];
    if (delayLevel > 0) {
      msg.delayTimeLevel = delayLevel;
    }
    const result = await producer.send(msg);
    emit({
      event: 'sent',
      i,
      tags: tag,
      status: result.sendStatus,
      msg_id: result.msgId,
      queue_id: Number(result.messageQueue.queueId),
      offset: result.queueOffset,
      born_ms: Date.now(),
    });
  }
  await producer.close();
  emit({ event: 'done', sent: count });
}

async function consume(nameSrv, topic, group, subExpr, expected, timeoutS, failFirst) {
  const consumer = new Consumer({
    ...common(nameSrv),
    consumerGroup: group,
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    brokerSuspendMaxTimeMillis: 2000,
    consumerTimeoutMillisWhenSuspend: 5000,
    rebalanceInterval: 2000,
  });
  consumer.on('error', err => emit({ event: 'error', where: 'consumer', message: String(err && err.message) }));
  let received = 0;
  let finish;
  const finished = new Promise(resolve => { finish = resolve; });
  const timer = setTimeout(() => finish('timeout'), timeoutS * 1000);
  const failed = new Set();
  consumer.subscribe(topic, subExpr, async msg => {
    const body = msg.body.toString();
    if (failFirst && !failed.has(body)) {
      failed.add(body);
      emit({ event: 'reconsume_later', body, reconsume_times: msg.reconsumeTimes });
      return Consumer.ACTION_RETRY;
    }
    received++;
    emit({
      event: 'received',
      body,
      tags: msg.tags || null,
      keys: msg.keys || null,
      msg_id: msg.msgId,
      queue_id: msg.queueId,
      queue_offset: Number(msg.queueOffset),
      born_ms: Number(msg.bornTimestamp),
      store_ms: Number(msg.storeTimestamp),
      reconsume_times: msg.reconsumeTimes,
    });
    if (received >= expected) {
      finish('done');
    }
  });
  const how = await finished;
  clearTimeout(timer);
  await consumer.close();
  emit({ event: how, received });
}

async function main() {
  const [ mode, nameSrv, ...rest ] = process.argv.slice(2);
  if (mode === 'produce') {
    const [ topic, count, prefix, tags, delayLevel ] = rest;
    await produce(nameSrv, topic, Number(count), prefix, tags || '', Number(delayLevel || 0));
  } else if (mode === 'consume') {
    const [ topic, group, subExpr, expected, timeoutS, how ] = rest;
    await consume(nameSrv, topic, group, subExpr, Number(expected), Number(timeoutS), how === 'fail_first');
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
}

setTimeout(() => {
  emit({ event: 'timeout', where: 'hard deadline' });
  process.exit(3);
}, HARD_DEADLINE_MS).unref();

main().then(
  () => process.exit(0),
  err => {
    emit({ event: 'fatal', name: err && err.name, code: err && err.code, message: String(err && err.message), stack: String(err && err.stack) });
    process.exit(2);
  }
);
