#!/usr/bin/python3
"""Fashion-MNIST over AMQP with pika: the outside program of tests/amqp_test.sh.

    amqp_fashion.py --url URL declare
    amqp_fashion.py --url URL publish --queue Q --labelled 2000 --bad 3
    amqp_fashion.py --url URL publish --queue Q --unlabelled 200 --first 1000
    amqp_fashion.py --url URL depth Q            # ready messages in Q
    amqp_fashion.py --url URL predictions Q N    # N distinct predictions or fail
    amqp_fashion.py --url URL dead Q N           # N dead letters with a reason

Images come from Debian's dataset-fashion-mnist: labelled ones from the
training split (image i is message "train-i", label header = its class),
unlabelled ones from the test split ("live-i"). Every tenth image is sent as a
PNG, the rest as 784 raw bytes. --bad adds undecodable or mislabelled
messages in the middle of the stream. Each stream ends with a message whose
header end_of_stream is true. Messages are persistent and published with
confirms, so a broker that is killed afterwards still has them.

Runs with Debian's /usr/bin/python3 and python3-pika.
"""
import argparse
import gzip
import struct
import sys
import time
import zlib

import pika

DATA = "/usr/share/datasets/fashion-mnist"
PREDICTIONS_EXCHANGE = "trainbus.predictions"
PREDICTIONS_QUEUE = "test.predictions"


def read_idx(name):
    with gzip.open(f"{DATA}/{name}", "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 2049:  # labels
        return list(data[8:8 + count])
    rows, cols = struct.unpack(">II", data[8:16])
    size = rows * cols
    return [data[16 + i * size:16 + (i + 1) * size] for i in range(count)]


def png(pixels, side=28):
    """A gray 8-bit PNG of a side x side image (filter 0 on every row)."""
    def chunk(kind, body):
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)
    raw = b"".join(b"\x00" + pixels[r * side:(r + 1) * side] for r in range(side))
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def connect(url):
    return pika.BlockingConnection(pika.URLParameters(url))


def declare(ch):
    """The queues and the predictions exchange, durable, before the run."""
    for q in ("trainbus.train", "trainbus.live", PREDICTIONS_QUEUE):
        ch.queue_declare(queue=q, durable=True)
    ch.exchange_declare(exchange=PREDICTIONS_EXCHANGE, exchange_type="direct",
                        durable=True)
    ch.queue_bind(queue=PREDICTIONS_QUEUE, exchange=PREDICTIONS_EXCHANGE,
                  routing_key="predictions")


def bad_messages():
    """(message id, body, headers) of messages the bridge must dead-letter."""
    return [
        ("bad-short", b"hello", {"label": 1}),
        ("bad-label", bytes(784), {"label": -3}),
        ("bad-png", b"\x89PNG\r\n\x1a\n" + b"not really", {"label": 2}),
    ]


def publish(ch, args):
    ch.confirm_delivery()
    if args.labelled:
        images = read_idx("train-images-idx3-ubyte.gz")
        labels = read_idx("train-labels-idx1-ubyte.gz")
        count, prefix = args.labelled, "train"
    else:
        images = read_idx("t10k-images-idx3-ubyte.gz")
        labels, count, prefix = None, args.unlabelled, "live"
    bad = bad_messages()[:args.bad]
    every_bad = max(count // (len(bad) + 1), 1) if bad else 0
    sent = 0
    for n in range(count):
        i = args.first + n
        body = png(images[i]) if i % 10 == 0 else images[i]
        headers = {"label": labels[i]} if labels else {}
        send(ch, args.queue, f"{prefix}-{i}", body, headers)
        sent += 1
        if bad and every_bad and (n + 1) % every_bad == 0:
            mid, body, headers = bad.pop(0)
            send(ch, args.queue, mid, body, headers)
    send(ch, args.queue, f"{prefix}-end", b"", {"end_of_stream": True})
    print(f"published {sent} images, {args.bad} bad messages and an end marker "
          f"to {args.queue}")


def send(ch, queue, message_id, body, headers):
    ch.basic_publish(
        exchange="", routing_key=queue, body=bytes(body),
        properties=pika.BasicProperties(delivery_mode=2, headers=headers,
                                        message_id=message_id))


def depth(ch, queue):
    print(ch.queue_declare(queue=queue, passive=True).method.message_count)


def drain(ch, queue, want, timeout_s, key):
    """Up to `want` distinct messages by key(props), within the deadline;
    returns them and how many messages were read."""
    seen, read = {}, 0
    deadline = time.monotonic() + timeout_s
    while len(seen) < want and time.monotonic() < deadline:
        method, props, body = ch.basic_get(queue=queue, auto_ack=True)
        if method is None:
            time.sleep(0.05)  # polled against the deadline above
            continue
        read += 1
        seen.setdefault(key(props), (props, body))
    return seen, read


def predictions(ch, queue, want):
    # Redelivery after a broker restart may repeat a sample: count origins.
    seen, read = drain(ch, queue, want, 60,
                       lambda props: (props.headers or {}).get("origin"))
    for props, _ in seen.values():
        h = props.headers or {}
        for key in ("predicted_label", "model", "version", "scores"):
            if key not in h:
                sys.exit(f"prediction {props.message_id} has no '{key}' header")
        if not 0 <= h["predicted_label"] <= 9 or len(h["scores"]) != 10:
            sys.exit(f"prediction {props.message_id}: bad label or scores: {h}")
    labels = read_idx("t10k-labels-idx1-ubyte.gz")
    right = sum(1 for props, _ in seen.values()
                if props.headers["predicted_label"] ==
                labels[int(props.headers["origin"].split("-")[1])])
    print(f"{len(seen)} distinct predictions ({read} messages), {right} right")
    if len(seen) != want:
        sys.exit(f"expected {want} distinct predictions, got {len(seen)}")


def dead(ch, queue, want):
    seen, _ = drain(ch, queue, want, 30, lambda props: props.message_id)
    for mid, (props, _) in sorted(seen.items()):
        reason = (props.headers or {}).get("reason")
        if not reason:
            sys.exit(f"dead letter {mid} has no reason header")
        print(f"dead letter {mid}: {reason}")
    if len(seen) != want:
        sys.exit(f"expected {want} dead letters in {queue}, got {len(seen)}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("declare")
    pub = sub.add_parser("publish")
    pub.add_argument("--queue", required=True)
    pub.add_argument("--labelled", type=int, default=0)
    pub.add_argument("--unlabelled", type=int, default=0)
    pub.add_argument("--first", type=int, default=0)
    pub.add_argument("--bad", type=int, default=0)
    d = sub.add_parser("depth")
    d.add_argument("queue")
    for name in ("predictions", "dead"):
        c = sub.add_parser(name)
        c.add_argument("queue")
        c.add_argument("want", type=int)
    args = p.parse_args()
    conn = connect(args.url)
    ch = conn.channel()
    if args.command == "declare":
        declare(ch)
    elif args.command == "publish":
        publish(ch, args)
    elif args.command == "depth":
        depth(ch, args.queue)
    elif args.command == "predictions":
        predictions(ch, args.queue, args.want)
    else:
        dead(ch, args.queue, args.want)
    conn.close()


if __name__ == "__main__":
    main()
