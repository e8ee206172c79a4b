/**
 * An order update as the ticker streams it: `{"type":"order","data":…}` where `data` has
 * the fields of Kite's order postback (Kite's docs: the WebSocket carries "order updates (the
 * same as the ones available as Postbacks)"; field names as in zerodha/kiteconnect-mocks
 * `postback.json`). The JS client hands `data` to `order_update` listeners; Python's
 * `on_order_update` gets it too.
 *
 * @module
 */
import { istWallClock } from "../market/ist_time.ts";

/** What varies between simulated order updates. */
export interface OrderUpdateOptions {
  readonly userId: string;
  /** Kite's order id: 15 digits. */
  readonly orderId: string;
  /** Epoch ms of the fill. */
  readonly at: number;
}

/** The text message of a completed market buy of one INFY share on NSE. */
export function orderUpdateText(options: OrderUpdateOptions): string {
  const time = istWallClock(options.at);
  const data = {
    user_id: options.userId,
    unfilled_quantity: 0,
    app_id: 1,
    checksum: "",
    placed_by: options.userId,
    order_id: options.orderId,
    exchange_order_id: `1${options.orderId}`,
    parent_order_id: null,
    status: "COMPLETE",
    status_message: null,
    status_message_raw: null,
    order_timestamp: time,
    exchange_update_timestamp: time,
    exchange_timestamp: time,
    variety: "regular",
    exchange: "NSE",
    tradingsymbol: "INFY",
    instrument_token: 408065,
    order_type: "MARKET",
    transaction_type: "BUY",
    validity: "DAY",
    product: "CNC",
    quantity: 1,
    disclosed_quantity: 0,
    price: 0,
    trigger_price: 0,
    average_price: 1500,
    filled_quantity: 1,
    pending_quantity: 0,
    cancelled_quantity: 0,
    market_protection: 0,
    meta: {},
    tag: null,
    guid: options.orderId,
  };
  return JSON.stringify({ type: "order", data });
}
