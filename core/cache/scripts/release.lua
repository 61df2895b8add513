-- Release a single-flight lock only if we still hold it: after it expired another caller may own it.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
