"""The ground floor of the LTS machinery: exact time (`time`), labels and transitions
(`labels`), the rule registry (`registry`), choice points (`choice`) and the version.
Nothing here imports anything else from udpsem."""
