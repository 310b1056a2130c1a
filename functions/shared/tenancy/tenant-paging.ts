/** An opaque page position of a directory listing (base64url JSON of the last key seen). */
export type Cursor = string;
