/** The address classification lives in the core (create-time validation uses it too); the SSRF guard re-exports it. */
export { type AddressClass, classifyAddress } from '../core/address-classes';
