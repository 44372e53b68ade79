// Photos are downscaled in the browser to save mobile data, keeping the camera's EXIF block
// (GPS, taken time: the server's flags read them) by copying it into the re-encoded JPEG.
export const MAX_SIDE = 2048;
export const JPEG_QUALITY = 0.85;
// A photo already this small (both in pixels and bytes) is sent byte-for-byte as taken.
export const KEEP_ORIGINAL_BYTES = 3 * 1024 * 1024;

const DECODABLE = ["image/jpeg", "image/png", "image/webp"];

/** Decide what to upload for a chosen file → {blob, name, info: {mode, width, height, bytes, exif}}. */
export async function preparePhoto(file) {
  const name = file.name || "photo.jpg";
  const isJpeg = file.type === "image/jpeg" || /\.jpe?g$/i.test(name);
  const exifSegment = isJpeg ? findExifSegment(new Uint8Array(await file.arrayBuffer())) : null;
  let bitmap = null;
  if (DECODABLE.includes(file.type) || isJpeg) {
    try {
      bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    } catch {
      bitmap = null;
    }
  }
  const original = { blob: file, name, info: { mode: "original", bytes: file.size, exif: Boolean(exifSegment) } };
  if (!bitmap) return original; // e.g. HEIC on a browser that cannot decode it: the server can
  const { width, height } = bitmap;
  original.info.width = width;
  original.info.height = height;
  if (Math.max(width, height) <= MAX_SIDE && file.size <= KEEP_ORIGINAL_BYTES) {
    bitmap.close();
    return original;
  }
  const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
  const w = Math.round(width * scale);
  const h = Math.round(height * scale);
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = h;
  canvas.getContext("2d").drawImage(bitmap, 0, 0, w, h);
  bitmap.close();
  let blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", JPEG_QUALITY));
  if (!blob) return original;
  if (exifSegment) blob = await withExif(blob, exifSegment);
  if (blob.size >= file.size && Math.max(width, height) <= MAX_SIDE) return original;
  return {
    blob,
    name: name.replace(/\.[^.]+$/, "") + ".jpg",
    info: { mode: "downscaled", width: w, height: h, bytes: blob.size, exif: Boolean(exifSegment) },
  };
}

/** The APP1 "Exif" segment of a JPEG (marker and length included), with Orientation set to 1
 *  because the pixels drawn on the canvas are already upright. */
export function findExifSegment(bytes) {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  let pos = 2;
  while (pos + 4 <= bytes.length) {
    if (bytes[pos] !== 0xff) return null;
    const marker = bytes[pos + 1];
    if (marker === 0xda || marker === 0xd9) return null; // start of scan / end: no EXIF before the image
    const length = (bytes[pos + 2] << 8) | bytes[pos + 3];
    const isExif = marker === 0xe1 && bytes[pos + 4] === 0x45 && bytes[pos + 5] === 0x78 && bytes[pos + 6] === 0x69
      && bytes[pos + 7] === 0x66 && bytes[pos + 8] === 0 && bytes[pos + 9] === 0;
    if (isExif) {
      const segment = bytes.slice(pos, pos + 2 + length);
      resetOrientation(segment, 10);
      return segment;
    }
    pos += 2 + length;
  }
  return null;
}

function resetOrientation(segment, tiffStart) {
  const view = new DataView(segment.buffer, segment.byteOffset, segment.byteLength);
  if (tiffStart + 8 > segment.length) return;
  const little = view.getUint16(tiffStart) === 0x4949;
  const ifd0 = tiffStart + view.getUint32(tiffStart + 4, little);
  if (ifd0 + 2 > segment.length) return;
  const count = view.getUint16(ifd0, little);
  for (let i = 0; i < count; i += 1) {
    const entry = ifd0 + 2 + i * 12;
    if (entry + 12 > segment.length) return;
    if (view.getUint16(entry, little) === 0x0112) {
      view.setUint16(entry + 8, 1, little);
      return;
    }
  }
}

/** A re-encoded JPEG with `exifSegment` put right after SOI in place of the encoder's JFIF APP0. */
async function withExif(jpegBlob, exifSegment) {
  const bytes = new Uint8Array(await jpegBlob.arrayBuffer());
  let rest = 2;
  if (bytes[2] === 0xff && bytes[3] === 0xe0) rest = 4 + ((bytes[4] << 8) | bytes[5]);
  return new Blob([bytes.slice(0, 2), exifSegment, bytes.slice(rest)], { type: "image/jpeg" });
}
