/* localvision: the last photos recognized in this browser, kept in this browser only.
 *
 * The Recognize page adds each photo it recognized (app.js); the Teach page offers them under
 * "From recent photos", so a photo that was just recognized (or misrecognized) can become a
 * training example without looking for the file again. They live in this browser's IndexedDB
 * (database "localvision", store "recent"): the server keeps no copy of a recognized photo,
 * and nothing here is sent anywhere until the user picks a photo on the Teach page.
 *
 * A fixed, small number is kept (LIMIT, the newest); the same file recognized again is kept once.
 * Where IndexedDB is not there or is blocked (a privacy setting), add() does nothing and list()
 * gives an empty list: the pages work as before.
 */
"use strict";

(function () {
  const DB_NAME = "localvision";
  const STORE = "recent";
  // Enough for "the photos I just tried", few enough that a browser's storage never notices.
  const LIMIT = 24;

  let opening = null;

  function open() {
    if (opening) return opening;
    opening = new Promise((resolve, reject) => {
      if (!window.indexedDB) {
        reject(new Error("no IndexedDB"));
        return;
      }
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        const store = request.result.createObjectStore(STORE, { keyPath: "id", autoIncrement: true });
        store.createIndex("added", "added");
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error("IndexedDB blocked"));
    });
    opening.catch(() => {
      opening = null; // try again next time
    });
    return opening;
  }

  /** Run `work(store)` in one transaction; resolves once it is written. */
  async function transaction(mode, work) {
    const db = await open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error("aborted"));
      work(tx.objectStore(STORE));
    });
  }

  async function getAll() {
    const db = await open();
    return new Promise((resolve, reject) => {
      const request = db.transaction(STORE).objectStore(STORE).getAll();
      request.onsuccess = () => resolve(request.result || []);
      request.onerror = () => reject(request.error);
    });
  }

  const same = (a, b) => a.name === b.name && a.size === b.size && a.lastModified === b.lastModified;

  /** Remember these photos (File objects), newest last; keeps the newest LIMIT. */
  async function add(files) {
    const photos = Array.from(files || []).slice(-LIMIT);
    if (!photos.length) return;
    try {
      const kept = await getAll();
      await transaction("readwrite", (store) => {
        // strictly after every photo kept: two adds within the same few milliseconds (a batch
        // numbers its photos now, now+1, ...) must still keep their order
        let now = Math.max(Date.now(), ...kept.map((row) => row.added + 1));
        const left = [];
        for (const row of kept) {
          if (photos.some((file) => same(row, file))) store.delete(row.id);
          else left.push(row);
        }
        for (const file of photos) {
          store.add({ name: file.name, type: file.type, size: file.size,
            lastModified: file.lastModified, added: now++,
            blob: new Blob([file], { type: file.type }) });
        }
        left.sort((a, b) => a.added - b.added);
        for (const row of left.slice(0, Math.max(0, left.length + photos.length - LIMIT))) {
          store.delete(row.id);
        }
      });
    } catch (err) {
      // storage blocked or full: recognizing goes on, there is just nothing to pick later
    }
  }

  /** The photos kept, newest first: [{id, name, type, size, added, blob}]. */
  async function list() {
    try {
      return (await getAll()).sort((a, b) => b.added - a.added);
    } catch (err) {
      return [];
    }
  }

  window.localvisionRecent = { LIMIT, add, list };
})();
