"""Key figures for administrators and territorial referents (empty for now).

May import: the contract, ``portal.models``, ``portal.reference`` and every domain
package (it is the rightmost one). Never Flask, views, commands, jobs or devtools.
"""
