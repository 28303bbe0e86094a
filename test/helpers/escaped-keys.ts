/**
 * Inventory keys (URL-encoded as S3 writes them) whose escapes change what the key is once decoded:
 * an extension made by "%2E" (x.jpeg), a last segment made by "%2F" (a/.jpg, a hidden file, not
 * an image), an extension escaped letter by letter. Both planning byte paths judge them decoded.
 */
export const ESCAPED_KEYS = ['p/x%2Ejpeg', 'p/a%2F.jpg', 'p/b%2f.png', 'p/photo.jp%67', 'p/%2E%74%69%66%66', 'p/long%2Ename-for-the-reach.jpg', 'p/dir%2Fsub/c.jpg', 'p/x%2etxt'];
