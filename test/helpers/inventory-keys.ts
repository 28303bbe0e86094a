// Keys as an Inventory writes them (URL-encoded), and the odd ones a hand-made report may hold.
export const KEYS = [
  'photos/IMG_1.jpg',
  'photos/%C3%89t%C3%A9+2024+%5Bcopy%5D/IMG+12%2B3.jpg', // "Été 2024 [copy]/IMG 12+3.jpg"
  'p/%ED%95%9C%EA%B5%AD%EC%96%B4.png', // Korean: lead bytes EA-ED
  'p/%F0%9F%93%B7+%E0%A4%95.webp', // an emoji (4 bytes) and Devanagari (E0)
  'p/%22quoted%22+%5Cback.jpg', // JSON escapes them
  'p/tab%09and%0Anewline.jpg',
  'p/photo%2Ejpg', // the extension escaped
  'p/100%25+sure.JPEG',
  'p/raw é bytes.jpg', // not encoded at all (hand-made)
  'p/notes.txt',
  'p/%7E%21%2A%28%29.gif',
];
