// Delivery: per-user message log in NATS JetStream, replay on (re)connect, live path, exact gap detection.
export { createPublisher, StreamPublisher, type Published, type Publisher, type PublisherOptions, type PublishOptions } from './publisher.js';
export { LiveFeed, type DeliveryTarget, type FeedStats } from './feed.js';
export { Delivery } from './service.js';
export { DeliveryError, type DeliveryErrorCode } from './errors.js';
export { DELIVERY_DEFAULTS, resolveDeliveryOptions, type DeliveryOptions } from './options.js';
export { streamConfig, ensureStream } from './stream.js';
export { subjectOf, userOfToken, userToken } from './subjects.js';
