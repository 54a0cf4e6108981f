/**
 * Debounce and throttle helpers for browser or Node code.
 *
 * debounce(fn, wait) delays calling fn until `wait` ms have passed without
 * another call; throttle(fn, wait) calls fn at most once per `wait` ms.
 * Both return a wrapper with cancel() and flush() methods.
 */
'use strict';

/**
 * @param {Function} fn        function to wrap
 * @param {number}   wait      quiet period in milliseconds
 * @param {{leading?: boolean, maxWait?: number}} [options]
 * @returns {Function & {cancel: Function, flush: Function, pending: Function}}
 */
function debounce(fn, wait, options = {}) {
  const { leading = false, maxWait } = options;
  let timer = null;
  let lastArgs = null;
  let lastThis = null;
  let result;
  let firstCallTime = null;

  function invoke() {
    const args = lastArgs;
    const ctx = lastThis;
    lastArgs = lastThis = null;
    firstCallTime = null;
    result = fn.apply(ctx, args);
    return result;
  }

  function onTimeout() {
    timer = null;
    if (lastArgs) invoke();
  }

  function debounced(...args) {
    const now = Date.now();
    lastArgs = args;
    lastThis = this;
    if (firstCallTime === null) firstCallTime = now;

    const isFirst = timer === null;
    if (timer !== null) clearTimeout(timer);

    // Honour maxWait: force an invocation if we have been deferring too long.
    if (maxWait !== undefined && now - firstCallTime >= maxWait) {
      timer = setTimeout(onTimeout, wait);
      return invoke();
    }

    timer = setTimeout(onTimeout, wait);
    if (leading && isFirst) return invoke();
    return result;
  }

  debounced.cancel = function cancel() {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    lastArgs = lastThis = null;
    firstCallTime = null;
  };

  debounced.flush = function flush() {
    if (timer === null) return result;
    clearTimeout(timer);
    timer = null;
    return lastArgs ? invoke() : result;
  };

  debounced.pending = () => timer !== null;
  return debounced;
}

/**
 * Throttle is a debounce whose maxWait equals its wait, firing on the
 * leading edge as well.
 */
function throttle(fn, wait) {
  return debounce(fn, wait, { leading: true, maxWait: wait });
}

module.exports = { debounce, throttle };

// Quick self-check when run directly: `node debounce.js`
if (require.main === module) {
  const calls = [];
  const log = debounce((x) => calls.push(x), 50);
  log(1);
  log(2);
  log(3);
  setTimeout(() => {
    console.log('debounced calls:', calls); // expected [3]
    const t = throttle((x) => calls.push(`t${x}`), 30);
    for (let i = 0; i < 5; i += 1) t(i);
    t.flush();
    console.log('after throttle:', calls); // expected [3, 't0', 't4']
  }, 100);
}
