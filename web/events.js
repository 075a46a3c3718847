// A minimal graphql-transport-ws client for one subscription, reconnecting with backoff.
// Protocol: https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md

const SUBSCRIPTION_ID = '1';
const ACK_TIMEOUT_MS = 10_000;
const MIN_DELAY_MS = 1_000;
const MAX_DELAY_MS = 30_000;

export class Subscription {
  /**
   * @param {object} options
   * @param {string} options.query the subscription document
   * @param {() => string|null} options.token the bearer token to present
   * @param {(data: object) => void} options.onData each `next` payload's data
   * @param {(status: 'connecting'|'live'|'reconnecting'|'off', detail?: string) => void} options.onStatus
   * @param {() => void} [options.onAck] after every (re)connection: events may have been missed
   * @param {() => Promise<boolean>} [options.onRejected] the server refused the connection before
   *   acknowledging it (a bad token, usually); resolve to false to stop reconnecting
   */
  constructor(options) {
    this.options = options;
    this.ws = null;
    this.stopped = true;
    this.attempts = 0;
    this.retryTimer = null;
    this.ackTimer = null;
    this.onOnline = () => {
      if (!this.stopped && !this.ws) this.connectNow();
    };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempts = 0;
    window.addEventListener('online', this.onOnline);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    clearTimeout(this.retryTimer);
    clearTimeout(this.ackTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = ws.onmessage = ws.onopen = ws.onerror = null;
      try {
        ws.close(1000, 'bye');
      } catch {
        /* already closed */
      }
    }
    this.options.onStatus('off');
  }

  connectNow() {
    clearTimeout(this.retryTimer);
    this.connect();
  }

  connect() {
    if (this.stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws;
    try {
      ws = new WebSocket(`${scheme}//${location.host}/graphql/ws`, 'graphql-transport-ws');
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    let acked = false;
    this.options.onStatus(this.attempts === 0 ? 'connecting' : 'reconnecting');
    const send = (message) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
    };

    ws.onopen = () => {
      const token = this.options.token();
      send({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} });
      this.ackTimer = setTimeout(() => ws.close(4408, 'Connection initialisation timeout'), ACK_TIMEOUT_MS);
    };

    ws.onmessage = (event) => {
      if (typeof event.data !== 'string') return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      switch (message?.type) {
        case 'connection_ack':
          clearTimeout(this.ackTimer);
          acked = true;
          this.attempts = 0;
          send({ id: SUBSCRIPTION_ID, type: 'subscribe', payload: { query: this.options.query } });
          this.options.onStatus('live');
          this.options.onAck?.();
          break;
        case 'next':
          if (message.id === SUBSCRIPTION_ID && message.payload?.data) {
            try {
              this.options.onData(message.payload.data);
            } catch (error) {
              console.error('subscription handler failed', error);
            }
          }
          break;
        case 'error':
          // The subscription itself was refused (e.g. FORBIDDEN): retrying won't help soon.
          console.warn('subscription error', message.payload);
          ws.close(1000, 'subscription refused');
          break;
        case 'complete':
          // The server ended the stream: start over.
          ws.close(1000, 'completed');
          break;
        case 'ping':
          send({ type: 'pong' });
          break;
        default:
          break;
      }
    };

    ws.onclose = async (event) => {
      clearTimeout(this.ackTimer);
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      // async-graphql closes with 1002 when connection_init is refused; the spec says 4403.
      if (!acked && [1002, 4401, 4403].includes(event.code) && this.options.onRejected) {
        const keepTrying = await this.options.onRejected(event.reason);
        if (!keepTrying || this.stopped) return;
      }
      this.scheduleReconnect();
    };
  }

  scheduleReconnect() {
    if (this.stopped) return;
    const base = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** this.attempts);
    const delay = Math.round(base * (0.5 + Math.random() / 2));
    this.attempts += 1;
    this.options.onStatus('reconnecting', `retrying in ${Math.ceil(delay / 1000)} s`);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}
