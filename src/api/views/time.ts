/** Times in the API are ISO 8601 UTC text; a time not set yet is null. */
export const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
