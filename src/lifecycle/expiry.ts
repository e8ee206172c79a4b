/**
 * When a Kite access token is expected to die: a time of day in India Standard Time. The IST
 * arithmetic has one home, `market/ist_time.ts`; this module passes on what the machine uses.
 *
 * @module
 */
export {
  formatTimeOfDay,
  nextIstTime,
  parseTimeOfDay,
  type TimeOfDay,
} from "../market/ist_time.ts";
